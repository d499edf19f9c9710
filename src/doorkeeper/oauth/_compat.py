"""What differs between the supported httpx-oauth versions (0.15 and later).

httpx-oauth 0.16 added `get_profile` and its `GetProfileError`, of which `GetIdEmailError`
became a subclass. On 0.15 the clients' only profile call is `get_id_email`, whose
failures are `GetIdEmailError`s: that class stands in for `GetProfileError` there, so
that catching `GetProfileError` catches what either version raises."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from httpx_oauth.exceptions import GetProfileError
else:
    try:
        from httpx_oauth.exceptions import GetProfileError
    except ImportError:  # httpx-oauth 0.15
        from httpx_oauth.exceptions import GetIdEmailError as GetProfileError

__all__ = ["GetProfileError"]
