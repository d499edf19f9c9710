"""The benchmarked app: one module, two libraries.

`BENCH_LIB=doorkeeper` imports Doorkeeper (run by the project's .venv);
`BENCH_LIB=fastapi_users` imports FastAPI Users (run by benchmarks/.venv-fastapi-users).
Everything below the imports is the same code for both: the shape of FastAPI Users'
documented SQLAlchemy example, with one JWT, one database and one Redis backend (bearer
transport each), the register router, and one users router per backend:

    POST /auth/register                  GET /bare (a constant: the ceiling)
    POST /auth/{jwt,db,redis}/login      GET /{jwt,db,redis}/users/me
                                         GET /floor/users/me (the dependency graph floor)

The strategy getters are `async def`: a sync getter is run in FastAPI's thread pool on
every request (8% of the CPU of W1 when they were sync); both libraries accept either.

`GET /floor/users/me` depends on exactly what `/jwt/users/me` depends on (the user
manager with its user database and session, the bearer transport's scheme, the JWT
strategy) and answers a constant user through the same response model, checking
nothing: the most any library keeping FastAPI Users' documented dependency shape can
serve, with zero authentication work and zero I/O.

Settings come from the environment: BENCH_DATABASE_URL, BENCH_REDIS_URL,
BENCH_REDIS_PREFIX, BENCH_HASHER (`prod`: Argon2id t=3 m=64 MiB p=4, or `cheap`:
t=1 m=64 KiB p=1), both libraries getting the same explicit Argon2 parameters, and
BENCH_AUTH_CACHE=1 (Doorkeeper only): one `AuthCache(ttl_seconds=5.0, redis=...)`,
Doorkeeper's opt-in per-process cache of token -> user, given to every `FastAPIUsers`.
"""

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio
from fastapi import Depends, FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

LIB = os.environ.get("BENCH_LIB", "doorkeeper")

if LIB == "doorkeeper":
    from doorkeeper import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
    from doorkeeper.authentication import (
        AuthenticationBackend,
        BearerTransport,
        JWTStrategy,
        RedisStrategy,
    )
    from doorkeeper.authentication.strategy.db import DatabaseStrategy
    from doorkeeper.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
    from doorkeeper.db.sqlalchemy.access_token import (
        SQLAlchemyAccessTokenDatabase,
        SQLAlchemyBaseAccessTokenTableUUID,
    )
    from doorkeeper.password import PasswordHelper
elif LIB == "fastapi_users":
    from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
    from fastapi_users.authentication import (
        AuthenticationBackend,
        BearerTransport,
        JWTStrategy,
        RedisStrategy,
    )
    from fastapi_users.authentication.strategy.db import DatabaseStrategy
    from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
    from fastapi_users.password import PasswordHelper
    from fastapi_users_db_sqlalchemy.access_token import (
        SQLAlchemyAccessTokenDatabase,
        SQLAlchemyBaseAccessTokenTableUUID,
    )
else:  # pragma: no cover - a wrong setting
    raise RuntimeError(f"BENCH_LIB must be doorkeeper or fastapi_users, not {LIB!r}")

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_PREFIX = os.environ.get("BENCH_REDIS_PREFIX", f"dk-bench:{LIB}:")
SECRET = "benchmark-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
LIFETIME = 3600
HASHERS = {
    "prod": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
    "cheap": {"time_cost": 1, "memory_cost": 64, "parallelism": 1},
}
HASHER_PARAMS = HASHERS[os.environ.get("BENCH_HASHER", "prod")]


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


engine = create_async_engine(DATABASE_URL, pool_size=10, max_overflow=10)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)
redis_client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
password_helper = PasswordHelper(PasswordHash((Argon2Hasher(**HASHER_PARAMS),)))


async def get_async_session() -> AsyncIterator[AsyncSession]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_async_session)) -> Any:
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(session: AsyncSession = Depends(get_async_session)) -> Any:
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: Any = Depends(get_user_db)) -> Any:
    yield UserManager(user_db, password_helper)


async def get_jwt_strategy() -> Any:
    return JWTStrategy(secret=SECRET, lifetime_seconds=LIFETIME)


async def get_database_strategy(access_token_db: Any = Depends(get_access_token_db)) -> Any:
    return DatabaseStrategy(access_token_db, lifetime_seconds=LIFETIME)


async def get_redis_strategy() -> Any:
    return RedisStrategy(redis_client, lifetime_seconds=LIFETIME, key_prefix=REDIS_PREFIX)


STRATEGIES = {"jwt": get_jwt_strategy, "db": get_database_strategy, "redis": get_redis_strategy}
USERS_OPTIONS: dict[str, Any] = {}  # keyword arguments of every FastAPIUsers
auth_cache: Any = None
if os.environ.get("BENCH_AUTH_CACHE", "") == "1":
    if LIB != "doorkeeper":
        raise RuntimeError("BENCH_AUTH_CACHE=1 is a Doorkeeper variant")
    from doorkeeper.authentication import AuthCache

    auth_cache = AuthCache(ttl_seconds=5.0, redis=redis_client, channel=f"{REDIS_PREFIX}auth-cache")
    USERS_OPTIONS["auth_cache"] = auth_cache


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield
    close = getattr(auth_cache, "aclose", None)
    if close is not None:
        await close()
    await redis_client.aclose()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"hello": "world"}


BACKENDS = {}
for name, get_strategy in STRATEGIES.items():
    backend = AuthenticationBackend(
        name=name,
        transport=BearerTransport(tokenUrl=f"auth/{name}/login"),
        get_strategy=get_strategy,
    )
    BACKENDS[name] = backend
    users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend], **USERS_OPTIONS)
    app.include_router(users.get_auth_router(backend), prefix=f"/auth/{name}")
    app.include_router(users.get_users_router(UserRead, UserUpdate), prefix=f"/{name}/users")
    if name == "jwt":
        app.include_router(users.get_register_router(UserRead, UserCreate), prefix="/auth")

FLOOR_USER = {
    "id": uuid.UUID(int=1),
    "email": "floor@bench.example",
    "is_active": True,
    "is_superuser": False,
    "is_verified": False,
}


@app.get("/floor/users/me", response_model=UserRead)
async def floor_me(
    user_manager: Any = Depends(get_user_manager),
    token: str | None = Depends(BACKENDS["jwt"].transport.scheme),
    strategy: Any = Depends(get_jwt_strategy),
) -> Any:
    return FLOOR_USER


EXPERIMENTS = os.environ.get("BENCH_EXPERIMENTS", "") if LIB == "doorkeeper" else ""
if EXPERIMENTS:  # profiling.py --experiment: never part of run.py's comparison
    import experiments

    experiments.apply(sys.modules[__name__], EXPERIMENTS)
