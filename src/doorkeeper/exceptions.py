"""Exceptions raised by the user manager and the storage layer."""

from typing import Any


class FastAPIUsersException(Exception):
    """Base class of every Doorkeeper exception (name kept for FastAPI Users apps)."""


DoorkeeperException = FastAPIUsersException


class InvalidID(FastAPIUsersException):
    """A value could not be parsed into a user id."""


class UserAlreadyExists(FastAPIUsersException):
    """A user with this e-mail (in any letter case) already exists."""


class UserNotExists(FastAPIUsersException):
    """No user matches."""


class UserInactive(FastAPIUsersException):
    """The user is not active."""


class UserAlreadyVerified(FastAPIUsersException):
    """The user is already verified."""


class InvalidVerifyToken(FastAPIUsersException):
    """The verification token is malformed, expired, used or forged."""


class InvalidResetPasswordToken(FastAPIUsersException):
    """The reset-password token is malformed, expired, used or forged."""


class InvalidEmailChangeToken(FastAPIUsersException):
    """The e-mail change token is malformed, expired, used or forged."""


class InvalidPasswordException(FastAPIUsersException):
    """A password was refused; `reason` says why."""

    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason
