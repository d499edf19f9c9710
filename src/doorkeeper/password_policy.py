"""The default password policy (SECURITY 6-8), used by the user manager's `validate_password`.

Following NIST SP 800-63B: a minimum and a maximum length, no composition rules, any
Unicode accepted, and a refusal of passwords that are common or equal to the user's
e-mail address. Lengths are counted in code points after NFKC normalization, the form
in which the password is hashed. The common-password list is shipped with the package
(``doorkeeper/data/common-passwords.txt``, see ``COMMON-PASSWORDS-NOTICE.txt`` beside it)
and read once, on first use; no network access is ever made.
"""

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from doorkeeper.password import normalize_password
from doorkeeper.schemas import PASSWORD_MAX_LENGTH

COMMON_PASSWORDS_RESOURCE = "data/common-passwords.txt"
"""Path of the common-password list inside the `doorkeeper` package."""

MIN_ALLOWED_MAX_LENGTH = 64
"""The maximum length may not be configured below this (NIST SP 800-63B)."""

MIN_EMAIL_LOCAL_PART_LENGTH = 3
"""A local part shorter than this is not refused as a password on its own."""


def _fold(value: str) -> str:
    """The form in which passwords are compared with the list and the e-mail address."""
    return normalize_password(value).strip().lower()


@lru_cache(maxsize=1)
def load_common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, folded; read once and cached."""
    text = (files("doorkeeper") / COMMON_PASSWORDS_RESOURCE).read_text(encoding="utf-8")
    return frozenset(_fold(line) for line in text.splitlines() if line.strip())


def is_common_password(password: str) -> bool:
    """Whether the password is in the common list (case-insensitive, after NFKC)."""
    return _fold(password) in load_common_passwords()


@dataclass(frozen=True)
class PasswordPolicy:
    """Rules a new password must follow.

    :param min_length: fewest code points (after NFKC normalization); at least 1.
        8 by default; 15 is suggested when there is no second factor.
    :param max_length: most code points; at least 64 and not below `min_length`.
    :param reject_common: refuse the 10,000 most common passwords.
    :param reject_email: refuse the user's e-mail address and its local part.
    """

    min_length: int = 8
    max_length: int = PASSWORD_MAX_LENGTH
    reject_common: bool = True
    reject_email: bool = True

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise ValueError("min_length must be at least 1.")
        if self.max_length < MIN_ALLOWED_MAX_LENGTH:
            raise ValueError(f"max_length must be at least {MIN_ALLOWED_MAX_LENGTH}.")
        if self.min_length > self.max_length:
            raise ValueError("min_length must not be greater than max_length.")

    def check(self, password: str, email: str | None = None) -> str | None:
        """Return None when the password is acceptable, else the reason it is refused."""
        normalized = normalize_password(password)
        if not normalized.strip():
            return "Password should not be empty or only whitespace."
        length = len(normalized)
        if length < self.min_length:
            # Unreachable with min_length == 1: a non-blank password has a code point.
            return f"Password should be at least {self.min_length} characters."
        if length > self.max_length:
            return f"Password should not be longer than {self.max_length} characters."
        if self.reject_email and email is not None and _matches_email(password, email):
            return "Password should not be your e-mail address."
        if self.reject_common and is_common_password(password):
            return "Password is too common."
        return None


def _matches_email(password: str, email: str) -> bool:
    folded = _fold(password)
    folded_email = _fold(email)
    if folded == folded_email:
        return True
    local = folded_email.rpartition("@")[0]  # "" when there is no "@"
    return len(local) >= MIN_EMAIL_LOCAL_PART_LENGTH and folded == local


DEFAULT_PASSWORD_POLICY = PasswordPolicy()
"""The policy the user manager applies unless it is given another one."""
