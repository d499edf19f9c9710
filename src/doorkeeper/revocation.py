"""Whether a token issued at some instant is still valid for its user.

A user row carries `tokens_valid_after` (tokens issued before it are revoked) and
`tokens_valid_except` (the one token, typically the one that made the change, kept
alive by that revocation). Both are read with the user, so the check costs no query.
Users of models without these columns are never considered revoked by this check.
"""

from datetime import datetime, timezone
from typing import Any


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def is_token_revoked(user: Any, issued_at: datetime, token_id: str | None) -> bool:
    """True when a revocation of `user`'s tokens happened after `issued_at`."""
    valid_after: datetime | None = getattr(user, "tokens_valid_after", None)
    if valid_after is None:
        return False
    if token_id is not None and token_id == getattr(user, "tokens_valid_except", None):
        return False
    return as_utc(issued_at) < as_utc(valid_after)
