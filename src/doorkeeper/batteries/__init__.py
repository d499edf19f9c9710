"""The pieces the `Doorkeeper` object is assembled from: its user manager, the start-up
check of the database, and the pages the ready-made server shows for links in mails."""
