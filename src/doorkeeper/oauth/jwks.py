"""The provider's signing keys (JWKS), fetched with httpx and cached.

An unknown `kid` (the provider rotated its keys) triggers a refetch, at most once per
`refetch_interval` seconds whatever the number of requests: a flood of ID tokens with
made-up `kid`s costs the provider one request per interval. The cache is also refreshed
once it is `max_age` seconds old, so a key the provider withdrew stops being accepted."""

import time
from typing import Any

from doorkeeper.oauth._http import ClientFactory, get_json
from doorkeeper.oauth._locks import PerLoopLock
from doorkeeper.oauth.errors import IDTokenError, OAuthProviderError

JWK = dict[str, Any]


def _monotonic() -> float:
    return time.monotonic()


class JWKSCache:
    def __init__(
        self,
        uri: str,
        client_factory: ClientFactory,
        *,
        refetch_interval: float = 60.0,
        max_age: float = 3600.0,
    ) -> None:
        self.uri = uri
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self._client_factory = client_factory
        self._keys: dict[str | None, JWK] | None = None
        self._fetched_at = 0.0
        self._attempted_at = 0.0
        self._lock = PerLoopLock()

    async def get(self, kid: str | None) -> JWK:
        """The JWK for `kid` (or the only key, for a token without `kid`)."""
        if self._is_fresh():
            key = self._lookup(kid)
            if key is not None:
                return key
        async with self._lock():
            # Re-check under the lock: a concurrent caller may have fetched meanwhile.
            stale = not self._is_fresh()
            if stale or (self._lookup(kid) is None and self._may_refetch()):
                await self._fetch()
            key = self._lookup(kid)
        if key is None:
            raise IDTokenError("no key of the provider's JWKS matches the ID token's kid")
        return key

    def _is_fresh(self) -> bool:
        return self._keys is not None and _monotonic() - self._fetched_at < self.max_age

    def _may_refetch(self) -> bool:
        return _monotonic() - self._attempted_at >= self.refetch_interval

    def _lookup(self, kid: str | None) -> JWK | None:
        assert self._keys is not None
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        self._attempted_at = _monotonic()
        document = await get_json(self._client_factory, self.uri, what="JWKS")
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise OAuthProviderError("the JWKS is not a JSON object with a list of keys")
        self._keys = parse_keys(keys)
        self._fetched_at = _monotonic()


def parse_keys(keys: list[Any]) -> dict[str | None, JWK]:
    """Signing keys by `kid` (`None` for a key without one); encryption keys skipped."""
    parsed: dict[str | None, JWK] = {}
    for key in keys:
        if not isinstance(key, dict) or not isinstance(key.get("kty"), str):
            continue
        if key.get("use", "sig") != "sig":
            continue
        kid = key.get("kid")
        parsed[kid if isinstance(kid, str) else None] = key
    return parsed
