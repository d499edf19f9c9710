"""The exception of a duplicate user: Doorkeeper's and SQLAlchemy's at once."""

from sqlalchemy.exc import IntegrityError

from doorkeeper.exceptions import UserAlreadyExists

__all__ = ["UserAlreadyExistsIntegrityError"]


class UserAlreadyExistsIntegrityError(UserAlreadyExists, IntegrityError):
    """The e-mail of a user being created or updated is taken.

    Doorkeeper's flows catch `UserAlreadyExists`; FastAPI Users' SQLAlchemy adapter let
    the `sqlalchemy.exc.IntegrityError` of the unique index through, and apps written
    for it catch that. This is both, built from the database's own error: `statement`,
    `params`, `orig` (the driver's exception) and `code` are the original's. Its message
    leaves the parameters out (they hold the password hash); `params` still has them.
    """

    @classmethod
    def from_integrity_error(cls, error: IntegrityError) -> "UserAlreadyExistsIntegrityError":
        duplicate = cls(
            error.statement,
            error.params,
            error.orig if error.orig is not None else error,
            hide_parameters=True,
            connection_invalidated=error.connection_invalidated,
            code=error.__dict__.get("code"),
            ismulti=error.ismulti,
        )
        duplicate.detail = list(error.detail)
        return duplicate
