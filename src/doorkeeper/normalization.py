"""Normalization of e-mail addresses for lookups and uniqueness.

Two addresses that differ only by letter case, surrounding spaces or the encoding of
an internationalized domain name belong to the same account (SECURITY 43). The stored
address keeps the case the user typed; its normalized form is stored beside it, under
a unique index, and every lookup goes through that index.
"""

import contextlib


def normalize_email(email: str) -> str:
    """Trim, lowercase the whole address, and IDNA-encode the domain."""
    email = email.strip()
    local, sep, domain = email.rpartition("@")
    if not sep:
        return email.lower()
    domain = domain.rstrip(".").lower()
    # A domain IDNA cannot encode stays as it is; it still compares lowercased.
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{local.lower()}@{domain}"
