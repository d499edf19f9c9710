"""Errors of the shipped migrations, each with a message that says what to do."""

from collections.abc import Sequence

__all__ = [
    "AdoptionConflictError",
    "AdoptionError",
    "DowngradeRefusedError",
    "MigrationError",
]

SHOWN_MAX = 50
"""How many conflicts a message lists; the exception keeps them all."""


class MigrationError(Exception):
    """A migration could not run; nothing was changed unless the message says so."""


class AdoptionError(MigrationError):
    """Existing tables that Doorkeeper cannot take over (not FastAPI Users' layout)."""


class AdoptionConflictError(AdoptionError):
    """Rows of a FastAPI Users database that break Doorkeeper's uniqueness rules.

    :ivar email_groups: Addresses that differ only by letter case (or spaces, or the
        encoding of the domain), one sorted list per account Doorkeeper would see.
    :ivar oauth_duplicates: `(oauth_name, account_id)` pairs linked more than once.

    Raised before anything is changed: merge or rename the accounts, then upgrade again.
    """

    def __init__(
        self,
        email_groups: Sequence[Sequence[str]] = (),
        oauth_duplicates: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.email_groups = [list(group) for group in email_groups]
        self.oauth_duplicates = list(oauth_duplicates)
        super().__init__(self._message())

    def _message(self) -> str:
        parts = []
        if self.email_groups:
            shown = "; ".join(", ".join(group) for group in self.email_groups[:SHOWN_MAX])
            parts.append(
                f"{len(self.email_groups)} e-mail address(es) are used by several users in "
                f"different letter case: {shown}{self._more(self.email_groups)}"
            )
        if self.oauth_duplicates:
            shown = "; ".join(
                f"{name} {account}" for name, account in self.oauth_duplicates[:SHOWN_MAX]
            )
            parts.append(
                f"{len(self.oauth_duplicates)} OAuth account(s) are linked more than once: "
                f"{shown}{self._more(self.oauth_duplicates)}"
            )
        return (
            "Cannot adopt the FastAPI Users database, nothing was changed: "
            + ". ".join(parts)
            + ". Merge or rename these accounts, then upgrade again."
        )

    @staticmethod
    def _more(items: Sequence[object]) -> str:
        return f" (and {len(items) - SHOWN_MAX} more)" if len(items) > SHOWN_MAX else ""


class DowngradeRefusedError(MigrationError):
    """The downgrade would drop tables Doorkeeper did not create (an adopted database)."""
