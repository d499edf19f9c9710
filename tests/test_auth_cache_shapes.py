"""Which mapped users the authentication cache can keep, and how it rebuilds them:
columns, a collection and a scalar relationship, and what it refuses (no database:
instances are made to look loaded)."""

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, create_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    make_transient_to_detached,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.attributes import set_committed_value

from doorkeeper.authentication import AuthCache


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Badge(Base):
    __tablename__ = "badge"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id"))
    label: Mapped[str] = mapped_column(String(50))


class Member(Base):
    """A user with a collection and a scalar relationship to plain models."""

    __tablename__ = "member"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100))
    tags: Mapped[Any] = mapped_column(JSON)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    team: Mapped[Team | None] = relationship()
    badges: Mapped[list[Badge]] = relationship()


class Club(Base):
    __tablename__ = "club"
    id: Mapped[int] = mapped_column(primary_key=True)
    captain: Mapped["Captain"] = relationship(back_populates="club")


class Captain(Base):
    """A user whose related model has relationships of its own: not cacheable."""

    __tablename__ = "captain"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    club_id: Mapped[int] = mapped_column(ForeignKey("club.id"))
    club: Mapped[Club] = relationship(back_populates="captain")


def loaded(instance: Any, **relations: Any) -> Any:
    """`instance` as a query would have left it: every column and relationship loaded."""
    for key, value in relations.items():
        set_committed_value(instance, key, value)
    make_transient_to_detached(instance)
    return instance


def member(team: Team | None, badges: list[Badge]) -> Member:
    return loaded(
        Member(id=uuid.uuid4(), email="m@example.com", tags=["a"], team_id=None),
        team=team,
        badges=badges,
    )


BACKEND = object()


def cache() -> AuthCache:
    return AuthCache(ttl_seconds=30, single_process=True)


def test_collections_and_scalars_are_rebuilt_as_loaded() -> None:
    auth = cache()
    team = loaded(Team(id=1, name="Round Table"))
    badge = loaded(Badge(id=2, member_id=uuid.uuid4(), label="knight"))
    original = member(team, [badge])
    auth.put(BACKEND, "with-team", original, None, None, auth.epoch)
    auth.put(BACKEND, "no-team", member(None, []), None, None, auth.epoch)
    assert len(auth) == 2
    hit = auth.get(BACKEND, "with-team", None)
    assert hit is not None
    rebuilt = hit[0]
    assert rebuilt is not original and rebuilt.team is not team
    assert (rebuilt.email, rebuilt.team.name, [b.label for b in rebuilt.badges]) == (
        "m@example.com",
        "Round Table",
        ["knight"],
    )
    rebuilt.tags.append("b")  # a mutable value is copied per request
    again = auth.get(BACKEND, "with-team", None)
    assert again is not None and again[0].tags == ["a"]
    no_team = auth.get(BACKEND, "no-team", None)
    assert no_team is not None and no_team[0].team is None


def test_a_plain_session_gets_the_rebuilt_user_attached() -> None:
    auth = cache()
    auth.put(BACKEND, "tok", member(None, []), None, None, auth.epoch)

    class Manager:
        def __init__(self, session: Session) -> None:
            self.user_db = type("UserDB", (), {"session": session})()

    with Session(create_engine("sqlite://")) as session:
        hit = auth.get(BACKEND, "tok", Manager(session))
        assert hit is not None and hit[0] in session


def test_what_cannot_be_rebuilt_without_a_query_is_not_kept() -> None:
    auth = cache()
    # A related model with relationships of its own.
    club = Club(id=1)
    captain = loaded(Captain(id=uuid.uuid4(), club_id=1), club=club)
    auth.put(BACKEND, "a", captain, None, None, auth.epoch)
    # A relationship that was not loaded.
    unloaded = make_transient_to_detached_without(member(None, []), "badges")
    auth.put(BACKEND, "b", unloaded, None, None, auth.epoch)
    # A related object that is not persistent (no identity).
    auth.put(BACKEND, "c", member(None, [Badge(id=3, label="x")]), None, None, auth.epoch)
    auth.put(BACKEND, "d", member(Team(id=4, name="x"), []), None, None, auth.epoch)
    assert len(auth) == 0


def make_transient_to_detached_without(instance: Member, key: str) -> Member:
    del instance.__dict__[key]
    return instance
