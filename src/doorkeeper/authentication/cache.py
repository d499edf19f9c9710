"""An opt-in, per-process cache of authentication answers: token → user.

Without it, every authenticated request reads its user (and the token or session) from
storage: one round trip, most of the cost of a request like `GET /users/me`. With it,
a token accepted once is answered from memory for at most `ttl_seconds`, and never
past the token's own expiry.

Revocation stays immediate: whatever changes how a user authenticates (an update of
the user row, logout, a session ended or refreshed, tokens revoked) is announced
through `doorkeeper.invalidation` once committed; the cache forgets that user at once
in this process and publishes the user id on a Redis channel that every other process
of the app listens to. While that channel is not confirmed, or after it breaks, the
cache answers nothing (every request reads storage) and forgets what it held. A change
made outside Doorkeeper (SQL by hand, another program) is seen within `ttl_seconds`.

Only users of SQLAlchemy models are cached, with their loaded relationships to models
without relationships of their own (`oauth_accounts`); a user whose columns or
relationships are not all loaded, or of another kind of model, is always read.
A cached user is rebuilt per request as a fresh instance attached to the request's
session, as if it had been loaded there, so routes may change and commit it as usual.
"""

import copy
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from doorkeeper.authentication.cache_bus import RedisInvalidationBus
from doorkeeper.authentication.strategy.digest import hash_token
from doorkeeper.invalidation import add_listener, remove_listener

if TYPE_CHECKING:  # the `redis` extra
    import redis.asyncio

IMMUTABLE_TYPES = (str, int, float, bool, bytes, type(None))


@dataclass(frozen=True, slots=True)
class _Shape:
    """What of a mapped class the cache keeps: its columns, and its relationships to
    classes that have no relationships of their own (like `oauth_accounts`)."""

    mapper: Mapper[Any]
    columns: tuple[str, ...]
    relations: tuple[tuple[str, bool, "_Shape"], ...]


Snapshot = tuple[dict[str, Any], dict[str, Any]]
"""Column values, and each relationship's snapshot (a list of them for a collection)."""


@dataclass(slots=True)
class _Entry:
    backend: Any  # held so that `id(backend)` in the entry's key stays this backend's
    shape: _Shape
    snapshot: Snapshot
    user_id: str
    token_id: str | None
    expires: float


@lru_cache(maxsize=64)
def _shape_of(mapped_class: Any, depth: int = 1) -> _Shape | None:
    """How to keep instances of `mapped_class`; `None` if they cannot be cached."""
    try:
        mapper: Mapper[Any] = sa_inspect(mapped_class)  # a class: its mapper, or raises
    except NoInspectionAvailable:
        return None
    relations = []
    for relationship in mapper.relationships:
        child_class: Any = relationship.mapper.class_
        child = _shape_of(child_class, depth - 1) if depth > 0 else None
        if child is None:
            return None
        relations.append((relationship.key, bool(relationship.uselist), child))
    columns = tuple(prop.key for prop in mapper.column_attrs)
    return _Shape(mapper, columns, tuple(relations))


def _snapshot(instance: Any, shape: _Shape) -> Snapshot | None:
    state = instance_state(instance)
    loaded = state.dict
    if state.key is None or any(key not in loaded for key in shape.columns):
        return None  # not persistent, or some column is expired / deferred
    related: dict[str, Any] = {}
    for key, uselist, child in shape.relations:
        if key not in loaded:
            return None  # not loaded: rebuilding it would need a query
        value = loaded[key]
        if uselist:
            items = [_snapshot(item, child) for item in value]
            if any(item is None for item in items):
                return None
            related[key] = items
        elif value is None:
            related[key] = None
        else:
            related[key] = _snapshot(value, child)
            if related[key] is None:
                return None
    return {key: loaded[key] for key in shape.columns}, related


def _build(shape: _Shape, snapshot: Snapshot) -> Any:
    """A detached instance, as if loaded by a query whose session has closed."""
    values, related = snapshot
    instance = shape.mapper.class_manager.new_instance()
    instance_state(instance).dict.update(
        {
            key: value if isinstance(value, IMMUTABLE_TYPES) else copy.deepcopy(value)
            for key, value in values.items()
        }
    )
    for key, uselist, child in shape.relations:
        kept = related[key]
        if uselist:
            built: Any = [_build(child, item) for item in kept]
        else:
            built = None if kept is None else _build(child, kept)
        set_committed_value(instance, key, built)
    make_transient_to_detached(instance)
    return instance


def _session_of(user_manager: Any) -> Session | None:
    session = getattr(getattr(user_manager, "user_db", None), "session", None)
    if isinstance(session, AsyncSession):
        return session.sync_session
    return session if isinstance(session, Session) else None


def _rebuild(entry: _Entry, user_manager: Any) -> Any:
    """A fresh instance of the cached user, attached to the request's session."""
    user = _build(entry.shape, entry.snapshot)
    session = _session_of(user_manager)
    identity = instance_state(user).key
    if session is not None and identity is not None:
        existing = session.identity_map.get(identity)
        if existing is not None:  # this request loaded the user already: that one
            return existing
        session.add(user)
    return user


class AuthCache:
    """:param ttl_seconds: How long an answer may be served from memory at most.
    :param redis: The app's asyncio Redis client: invalidations travel between the
        app's processes on `channel`. Required unless `single_process`.
    :param channel: The pub/sub channel shared by every process of one app.
    :param single_process: Declare that exactly one process serves the app (no
        `--workers`, one instance): invalidations stay in this process.
    :param max_entries: Bound on the tokens held; the oldest go first.
    """

    def __init__(
        self,
        ttl_seconds: float = 5.0,
        *,
        redis: "redis.asyncio.Redis | None" = None,
        channel: str = "doorkeeper:auth-cache",
        single_process: bool = False,
        max_entries: int = 100_000,
    ) -> None:
        if not ttl_seconds > 0:
            raise ValueError("ttl_seconds must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if redis is None and not single_process:
            raise ValueError(
                "AuthCache needs redis= to invalidate across the app's processes; "
                "pass single_process=True only if one process serves the app"
            )
        self.ttl_seconds = float(ttl_seconds)
        self.max_entries = max_entries
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._by_user: dict[str, set[tuple[int, str]]] = {}
        self._epoch = 0
        self.bus = (
            None
            if redis is None
            else RedisInvalidationBus(redis, channel, self.forget_user, self.clear)
        )
        add_listener(self)

    # --- reading ------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """Changes with every invalidation: take it before reading storage and hand it
        to `put`, so that an answer read while its user changed is not kept."""
        return self._epoch

    def usable(self) -> bool:
        """Whether answers may come from (and go to) memory right now."""
        return self.bus is None or self.bus.ensure_started()

    def get(self, backend: Any, token: str, user_manager: Any) -> tuple[Any, str | None] | None:
        """The cached `(user, token_id)` of `token` on `backend`, or `None`."""
        if not self._entries or not self.usable():
            return None
        key = (id(backend), hash_token(token))
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            self._drop(key)
            return None
        return _rebuild(entry, user_manager), entry.token_id

    def put(
        self,
        backend: Any,
        token: str,
        user: Any,
        token_id: str | None,
        token_expires_at: float | None,
        epoch: int,
    ) -> None:
        """Remember that `token` authenticated `user` (read when `epoch` was current)."""
        if epoch != self._epoch or not self.usable():
            return
        lifetime = self.ttl_seconds
        if token_expires_at is not None:
            lifetime = min(lifetime, token_expires_at - time.time())
        if lifetime <= 0:
            return
        user_class: Any = type(user)
        shape = _shape_of(user_class)
        snapshot = None if shape is None else _snapshot(user, shape)
        if shape is None or snapshot is None:
            return
        key = (id(backend), hash_token(token))
        self._drop(key)
        while len(self._entries) >= self.max_entries:
            self._drop(next(iter(self._entries)))
        user_id = str(user.id)
        self._entries[key] = _Entry(
            backend, shape, snapshot, user_id, token_id, time.monotonic() + lifetime
        )
        self._by_user.setdefault(user_id, set()).add(key)

    def __len__(self) -> int:
        return len(self._entries)

    # --- forgetting ---------------------------------------------------------------------

    async def user_changed(self, user_id: str) -> None:
        """A change committed in this process: forget the user here and everywhere."""
        self.forget_user(user_id)
        if self.bus is not None:
            await self.bus.publish(user_id)

    def forget_user(self, user_id: str) -> None:
        self._epoch += 1
        for key in self._by_user.pop(user_id, ()):
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self._by_user.clear()

    def _drop(self, key: tuple[int, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            keys = self._by_user.get(entry.user_id, set())
            keys.discard(key)
            if not keys:
                self._by_user.pop(entry.user_id, None)

    async def aclose(self) -> None:
        """Stop listening and forget everything (call it when the app shuts down)."""
        remove_listener(self)
        self.clear()
        if self.bus is not None:
            await self.bus.aclose()
