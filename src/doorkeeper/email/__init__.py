"""E-mail: messages, senders (console, memory, SMTP), templates and the `Mailer`.

The `Mailer` renders the account mails (verify, reset password, e-mail change and its
notice, "already registered"), builds their links from the configured public URL and
sends them after the response; a failed send is logged, never turned into an error.
"""

from doorkeeper.email.console import ConsoleEmailSender, MemoryEmailSender
from doorkeeper.email.links import DEFAULT_PATHS
from doorkeeper.email.mailer import Mailer
from doorkeeper.email.message import EmailMessage, EmailSender
from doorkeeper.email.smtp import SMTPEmailSender, SMTPSecurity
from doorkeeper.email.templates import EmailTemplates, RenderedEmail

__all__ = [
    "DEFAULT_PATHS",
    "ConsoleEmailSender",
    "EmailMessage",
    "EmailSender",
    "EmailTemplates",
    "Mailer",
    "MemoryEmailSender",
    "RenderedEmail",
    "SMTPEmailSender",
    "SMTPSecurity",
]
