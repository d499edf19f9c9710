"""Social sign-in for the `Doorkeeper` object (`Doorkeeper(oauth_providers=[...])`).

Each provider client is mounted under `/auth/{client.name}`:

* `/auth/{name}/cookie/authorize|callback`: sign in with the cookie backend; the
  callback sets the cookie and redirects (303) to the front end;
* `/auth/{name}/bearer/authorize|callback|exchange`: sign in with the bearer backend; the
  callback redirects with a one-time `code` that the front end exchanges for tokens;
* `/auth/{name}/associate/authorize|callback`: link the provider account to the
  signed-in user;

and `/users/me/oauth-accounts` lists and unlinks the caller's accounts. E-mail
association is on (only for addresses the provider reports verified), spent states and
one-time codes live where `oauth_state_store` says (Redis under `oauth_redis_key_prefix`, a
class attribute a subclass may set), else in the database, and provider
tokens are encrypted under a key derived from the secret.
"""

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter

from doorkeeper.oauth.crypto import TokenCipher
from doorkeeper.oauth.profile import OAuthProfileClient
from doorkeeper.settings import ConfigurationError, derive_secret
from doorkeeper.singleuse import SingleUseStore

__all__ = ["build_oauth_router", "check_provider_names"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_RESERVED = frozenset({"bearer", "cookie", "register", "forgot-password", "reset-password"})
_RESERVED |= {"request-verify-token", "verify"}
REDIS_KEY_PREFIX = "doorkeeper:oauth:"


def check_provider_names(providers: Sequence[Any]) -> None:
    """Raise `ConfigurationError` for a provider name that cannot be a path segment of its
    own under `/auth/`."""
    seen: set[str] = set()
    for client in providers:
        name = getattr(client, "name", None)
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name in _RESERVED:
            raise ConfigurationError(
                f"oauth_providers: {name!r} cannot name a provider's routes under /auth/"
            )
        if name in seen:
            raise ConfigurationError(f"oauth_providers: two providers are named {name!r}")
        seen.add(name)


def _state_store(auth: Any) -> SingleUseStore:
    if auth.settings.oauth_state_store == "redis":
        from doorkeeper.singleuse.redis import RedisSingleUseStore

        prefix = getattr(auth, "oauth_redis_key_prefix", REDIS_KEY_PREFIX)
        return RedisSingleUseStore(auth.redis, key_prefix=prefix)
    store: SingleUseStore = auth.adapter.single_use
    return store


def build_oauth_router(auth: Any) -> APIRouter:
    """The social sign-in routes of a `Doorkeeper` object (`auth`)."""
    settings = auth.settings
    users = auth.fastapi_users
    secure = settings.secure_cookies
    common: dict[str, Any] = {
        "state_store": _state_store(auth),
        "token_cipher": auth.oauth_token_cipher or TokenCipher(settings.secret),
        "frontend_url": auth.oauth_frontend_url or settings.public_url,
        "allowed_redirect_origins": tuple(settings.csrf_trusted_origins),
        "csrf_token_cookie_name": "__Host-doorkeeper_oauth" if secure else "doorkeeper_oauth",
        "csrf_token_cookie_secure": secure,
    }
    state_secret = derive_secret(settings.secret, "doorkeeper:oauth-state")
    router = APIRouter()
    for client in auth.oauth_providers:
        for backend in auth.backends:
            router.include_router(
                users.get_oauth_router(
                    client,
                    backend,
                    state_secret,
                    associate_by_email=True,
                    is_verified_by_default=isinstance(client, OAuthProfileClient),
                    refresh=settings.refresh_tokens,
                    **common,
                ),
                prefix=f"/auth/{client.name}/{backend.name}",
                tags=["auth"],
            )
        router.include_router(
            users.get_oauth_associate_router(client, auth.user_schema, state_secret, **common),
            prefix=f"/auth/{client.name}/associate",
            tags=["auth"],
        )
    router.include_router(users.get_oauth_accounts_router(), prefix="/users", tags=["users"])
    return router
