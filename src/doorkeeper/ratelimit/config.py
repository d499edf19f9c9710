"""`RateLimits`: how many attempts each credential path allows, as `limits` strings."""

from dataclasses import dataclass, fields

from limits import RateLimitItem, parse_many

__all__ = ["RateLimits"]


@dataclass(frozen=True)
class RateLimits:
    """Every limit of the brute-force protection (SECURITY 13-16).

    Each value is a rate in the notation of the `limits` package: `"10/15 minutes"`,
    `"5 per minute"`, or several at once (`"5/minute; 20/hour"`). `None` turns that one
    counter off. A string that does not parse raises `ValueError` naming the field.

    :param login_per_account: failed logins per account (its normalized e-mail),
        whatever the client's address.
    :param login_per_ip: failed logins per client IP, whatever the account.
    :param token_per_ip: bad tokens per client IP, on /verify and /reset-password
        together.
    :param forgot_password_per_address: POST /forgot-password per e-mail address,
        known or not.
    :param forgot_password_per_ip: POST /forgot-password per client IP.
    :param request_verify_per_address: POST /request-verify-token per e-mail address,
        known or not.
    :param request_verify_per_ip: POST /request-verify-token per client IP.
    """

    login_per_account: str | None = "10/15 minutes"
    login_per_ip: str | None = "100/15 minutes"
    token_per_ip: str | None = "20/15 minutes"  # noqa: S105 - a rate, not a secret
    forgot_password_per_address: str | None = "5/15 minutes"  # noqa: S105
    forgot_password_per_ip: str | None = "50/15 minutes"  # noqa: S105
    request_verify_per_address: str | None = "5/15 minutes"
    request_verify_per_ip: str | None = "50/15 minutes"

    def __post_init__(self) -> None:
        for field in fields(self):
            self.items(field.name)

    def items(self, name: str) -> tuple[RateLimitItem, ...]:
        """The parsed limits of the field `name` (empty when it is `None`)."""
        value = getattr(self, name)
        if value is None:
            return ()
        try:
            return tuple(parse_many(value))
        except ValueError:
            raise ValueError(
                f"RateLimits.{name}: {value!r} is not a rate such as '10/15 minutes'"
            ) from None
