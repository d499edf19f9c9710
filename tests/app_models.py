"""An app migrated from FastAPI Users by renaming its imports: its own `users` table with
integer ids, OAuth accounts and database-strategy tokens referring to it. Importable as
`tests.app_models:Base` (`doorkeeper db upgrade --metadata`)."""

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from doorkeeper.db import SQLAlchemyBaseOAuthAccountTable, SQLAlchemyBaseUserTable
from doorkeeper.db.sqlalchemy.access_token import SQLAlchemyBaseAccessTokenTable


class Base(DeclarativeBase):
    pass


class OAuthAccount(SQLAlchemyBaseOAuthAccountTable[int], Base):
    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    @declared_attr
    def user_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("users.id", ondelete="cascade"), nullable=False)


class User(SQLAlchemyBaseUserTable[int], Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oauth_accounts: Mapped[list[OAuthAccount]] = relationship("OAuthAccount", lazy="joined")


class AccessToken(SQLAlchemyBaseAccessTokenTable[int], Base):
    @declared_attr
    def user_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("users.id", ondelete="cascade"), nullable=False)
