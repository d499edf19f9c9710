"""Single-use keys shared by every instance of an app: OAuth `state` ids that may be
spent once, and short-lived values taken at most once (the one-time codes that hand an
OAuth sign-in to a front end).

`SingleUseStore` is the protocol; `MemorySingleUseStore` (this process only),
`doorkeeper.singleuse.redis.RedisSingleUseStore` and
`doorkeeper.singleuse.sqlalchemy.SQLAlchemySingleUseStore` implement it.
"""

from doorkeeper.singleuse.store import MemorySingleUseStore, SingleUseStore, single_use_key

__all__ = ["MemorySingleUseStore", "SingleUseStore", "single_use_key"]
