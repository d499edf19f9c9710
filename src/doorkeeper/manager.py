"""`BaseUserManager`: the flows (register, authenticate, verify, reset, update, delete)
and the hooks an app overrides, with FastAPI Users' methods and attributes.

Where it differs, it is safer, not different: hashing runs in a worker thread; a login
for an unknown e-mail costs the same time as one for a known e-mail; reset and verify
tokens are single-use even under concurrency; a password change, a reset, an e-mail
change or a deactivation ends the user's other sessions.
"""

import hashlib
import hmac
from datetime import datetime, timezone
from typing import Any, Generic

import jwt
from fastapi import Request
from fastapi.security import OAuth2PasswordRequestForm

from doorkeeper import exceptions, models, schemas
from doorkeeper.audit_flows import audited, audited_update
from doorkeeper.concurrency import run_cpu_bound
from doorkeeper.db import BaseUserDatabase
from doorkeeper.email_change import EmailChangeMixin
from doorkeeper.ids import IntegerIDMixin, UUIDIDMixin
from doorkeeper.jwt import SecretType, _get_secret_value, decode_jwt, generate_jwt
from doorkeeper.manager_hooks import UserManagerHooks
from doorkeeper.normalization import normalize_email
from doorkeeper.oauth_flows import OAuthCallbacksMixin
from doorkeeper.password import PasswordHelper, PasswordHelperProtocol
from doorkeeper.password_policy import DEFAULT_PASSWORD_POLICY, PasswordPolicy
from doorkeeper.types import DependencyCallable

RESET_PASSWORD_TOKEN_AUDIENCE = "fastapi-users:reset"  # noqa: S105 - an audience, not a secret
VERIFY_USER_TOKEN_AUDIENCE = "fastapi-users:verify"  # noqa: S105 - an audience, not a secret

__all__ = [
    "RESET_PASSWORD_TOKEN_AUDIENCE",
    "VERIFY_USER_TOKEN_AUDIENCE",
    "BaseUserManager",
    "IntegerIDMixin",
    "UUIDIDMixin",
    "UserManagerDependency",
]


def _request_token_id(request: Request | None) -> str | None:
    """The id of the token that authenticated this request (set by the Authenticator)."""
    if request is None:
        return None
    token_id = getattr(request.state, "doorkeeper_token_id", None)
    return token_id if isinstance(token_id, str) else None


_NOT_NULL_FIELDS = frozenset({"email", "password", "is_active", "is_superuser", "is_verified"})
"""Fields of an update whose `null` means "unchanged": the columns cannot hold one."""


class BaseUserManager(
    UserManagerHooks[models.UP],
    OAuthCallbacksMixin,
    EmailChangeMixin,
    Generic[models.UP, models.ID],
):
    """User management logic; subclass it to set the secrets and override the hooks.

    :attribute reset_password_token_secret: Secret to sign reset password tokens.
    :attribute reset_password_token_lifetime_seconds: Their lifetime (1 hour).
    :attribute reset_password_token_audience: Their JWT audience.
    :attribute verification_token_secret: Secret to sign verification tokens.
    :attribute verification_token_lifetime_seconds: Their lifetime (24 hours).
    :attribute verification_token_audience: Their JWT audience.
    :attribute password_policy: What the default `validate_password` enforces.
    :attribute require_current_password: Self-service password changes need the
        current password (`False` restores FastAPI Users' behaviour).
    :attribute email_change_requires_confirmation: Self-service e-mail changes wait for
        a confirmation from the new address (see `doorkeeper.email_change`).

    Each flow records an audit event (`doorkeeper.audit_flows`) for `on_event`.

    :param user_db: Database adapter instance.
    :param password_helper: Hashes and verifies passwords; Argon2id by default.
    """

    reset_password_token_secret: SecretType
    reset_password_token_lifetime_seconds: int = 3600
    reset_password_token_audience: str = RESET_PASSWORD_TOKEN_AUDIENCE

    verification_token_secret: SecretType
    verification_token_lifetime_seconds: int = 86400
    verification_token_audience: str = VERIFY_USER_TOKEN_AUDIENCE
    accept_fastapi_users_reset_tokens: bool = True
    """Accept the reset tokens FastAPI Users issued before the switch (their fingerprint
    is a hash of the password hash); they die with the password all the same."""

    password_policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY
    require_current_password: bool = True
    """A user changing their own password must give the current one (SECURITY 9)."""
    revoke_sessions_on_change: bool = True
    """A password change or reset, an e-mail change or a deactivation ends the user's
    other sessions (SECURITY 19)."""
    trusted_proxies: tuple[str, ...] = ()
    """Proxies whose `X-Forwarded-For` gives the client IP recorded in audit events."""

    user_db: BaseUserDatabase[models.UP, models.ID]
    password_helper: PasswordHelperProtocol

    def __init__(
        self,
        user_db: BaseUserDatabase[models.UP, models.ID],
        password_helper: PasswordHelperProtocol | None = None,
    ) -> None:
        self.user_db = user_db
        self.password_helper = password_helper if password_helper is not None else PasswordHelper()

    def parse_id(self, value: Any) -> models.ID:
        """Parse a value into an id; raise `InvalidID` when it cannot be one."""
        raise NotImplementedError()

    # --- lookups ---------------------------------------------------------------------

    async def get(self, id: models.ID) -> models.UP:
        """Get a user by id; raise `UserNotExists` when there is none."""
        user = await self.user_db.get(id)
        if user is None:
            raise exceptions.UserNotExists()
        return user

    async def get_by_email(self, user_email: str) -> models.UP:
        """Get a user by e-mail, in any letter case; raise `UserNotExists`."""
        user = await self.user_db.get_by_email(user_email)
        if user is None:
            raise exceptions.UserNotExists()
        return user

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> models.UP:
        """Get a user by OAuth account; raise `UserNotExists`."""
        user = await self.user_db.get_by_oauth_account(oauth, account_id)
        if user is None:
            raise exceptions.UserNotExists()
        return user

    # --- registration and sign-in ----------------------------------------------------

    @audited("register")
    async def create(
        self,
        user_create: schemas.UC,
        safe: bool = False,
        request: Request | None = None,
    ) -> models.UP:
        """Create a user; `safe=True` ignores is_superuser, is_active and is_verified.

        Raises `UserAlreadyExists` (also when a concurrent request took the e-mail: the
        database decides) and `InvalidPasswordException`. Triggers `on_after_register`.
        """
        await self.validate_password(user_create.password, user_create)
        if await self.user_db.get_by_email(user_create.email) is not None:
            raise exceptions.UserAlreadyExists()
        user_dict = (
            user_create.create_update_dict() if safe else user_create.create_update_dict_superuser()
        )
        password = user_dict.pop("password")
        user_dict["hashed_password"] = await self.hash_password(password)
        created_user = await self.user_db.create(user_dict)
        await self.on_after_register(created_user, request)
        return created_user

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> models.UP | None:
        """Return the user matching an e-mail and a password, else `None`.

        An unknown e-mail costs one password verification too (against a dummy hash),
        so that response times do not tell which addresses have accounts. A hash made
        with weaker parameters or another algorithm is upgraded on success.
        """
        password = credentials.password
        if len(password) > schemas.PASSWORD_MAX_LENGTH:
            return None
        user = await self.user_db.get_by_email(credentials.username)
        if user is None:
            await run_cpu_bound(self._spend_one_verification, password)
            return None
        verified, updated_hash = await run_cpu_bound(
            self.password_helper.verify_and_update, password, user.hashed_password
        )
        if not verified:
            return None
        if updated_hash is not None:
            user = await self.user_db.update(user, {"hashed_password": updated_hash})
        return user

    # --- verification ----------------------------------------------------------------

    @audited("request_verify", user_arg="user")
    async def request_verify(self, user: models.UP, request: Request | None = None) -> None:
        """Make a verification token and hand it to `on_after_request_verify`.

        Raises `UserInactive` or `UserAlreadyVerified`.
        """
        if not user.is_active:
            raise exceptions.UserInactive()
        if user.is_verified:
            raise exceptions.UserAlreadyVerified()
        token_data = {
            "sub": str(user.id),
            "email": user.email,
            "aud": self.verification_token_audience,
        }
        token = generate_jwt(
            token_data,
            self.verification_token_secret,
            self.verification_token_lifetime_seconds,
        )
        await self.on_after_request_verify(user, token, request)

    @audited("verify")
    async def verify(self, token: str, request: Request | None = None) -> models.UP:
        """Mark the user of a verification token verified; triggers `on_after_verify`.

        Raises `InvalidVerifyToken` (bad, expired, or for an address the user no longer
        has) or `UserAlreadyVerified` (including the second of two concurrent uses).
        """
        try:
            data = decode_jwt(
                token,
                self.verification_token_secret,
                [self.verification_token_audience],
                require=("exp",),
            )
        except jwt.PyJWTError:
            raise exceptions.InvalidVerifyToken() from None
        user_id, email = data.get("sub"), data.get("email")
        if not isinstance(user_id, str) or not isinstance(email, str):
            raise exceptions.InvalidVerifyToken()
        try:
            user = await self.get_by_email(email)
            parsed_id = self.parse_id(user_id)
        except (exceptions.UserNotExists, exceptions.InvalidID):
            raise exceptions.InvalidVerifyToken() from None
        if parsed_id != user.id or normalize_email(email) != normalize_email(user.email):
            raise exceptions.InvalidVerifyToken()
        if user.is_verified:
            raise exceptions.UserAlreadyVerified()
        verified_user = await self.user_db.update_if(
            user, {"is_verified": True}, expected={"is_verified": False}
        )
        if verified_user is None:
            raise exceptions.UserAlreadyVerified()
        await self.on_after_verify(verified_user, request)
        return verified_user

    # --- password reset --------------------------------------------------------------

    def _password_fingerprint(self, hashed_password: str) -> str:
        """Binds a reset token to the current password: it dies when that changes."""
        key = _get_secret_value(self.reset_password_token_secret).encode()
        return hmac.new(key, hashed_password.encode(), hashlib.sha256).hexdigest()

    async def _fingerprint_matches(self, fingerprint: str, hashed_password: str) -> bool:
        """Whether a reset token's fingerprint is that of the current password.

        A token FastAPI Users issued before the switch carries a password hash of the
        password hash instead of an HMAC: it is verified that way (one hash verification,
        in a worker thread), so pending reset links keep working until they expire."""
        if hmac.compare_digest(fingerprint, self._password_fingerprint(hashed_password)):
            return True
        if not (self.accept_fastapi_users_reset_tokens and fingerprint.startswith("$")):
            return False
        verified, _ = await run_cpu_bound(
            self.password_helper.verify_and_update, hashed_password, fingerprint
        )
        return verified

    @audited("forgot_password", user_arg="user")
    async def forgot_password(self, user: models.UP, request: Request | None = None) -> None:
        """Make a reset token and hand it to `on_after_forgot_password`.

        Raises `UserInactive`.
        """
        if not user.is_active:
            raise exceptions.UserInactive()
        token_data = {
            "sub": str(user.id),
            "password_fgpt": self._password_fingerprint(user.hashed_password),
            "aud": self.reset_password_token_audience,
        }
        token = generate_jwt(
            token_data,
            self.reset_password_token_secret,
            self.reset_password_token_lifetime_seconds,
        )
        await self.on_after_forgot_password(user, token, request)

    @audited("reset_password")
    async def reset_password(
        self, token: str, password: str, request: Request | None = None
    ) -> models.UP:
        """Set a new password from a reset token; ends every session of the user.

        Raises `InvalidResetPasswordToken` (bad, expired, already used: at most one of
        concurrent uses succeeds), `UserNotExists` (the user was deleted), `UserInactive`
        or `InvalidPasswordException` (which leaves the token usable). Triggers
        `on_after_reset_password`.
        """
        try:
            data = decode_jwt(
                token,
                self.reset_password_token_secret,
                [self.reset_password_token_audience],
                require=("exp",),
            )
        except jwt.PyJWTError:
            raise exceptions.InvalidResetPasswordToken() from None
        user_id, fingerprint = data.get("sub"), data.get("password_fgpt")
        if not isinstance(user_id, str) or not isinstance(fingerprint, str):
            raise exceptions.InvalidResetPasswordToken()
        try:
            parsed_id = self.parse_id(user_id)
        except exceptions.InvalidID:
            raise exceptions.InvalidResetPasswordToken() from None
        # A genuine token of a user deleted since: `UserNotExists`, as in FastAPI Users
        # (the router answers RESET_PASSWORD_BAD_TOKEN to both).
        user = await self.get(parsed_id)
        current_hash = user.hashed_password
        if not await self._fingerprint_matches(fingerprint, current_hash):
            raise exceptions.InvalidResetPasswordToken()
        if not user.is_active:
            raise exceptions.UserInactive()
        await self.validate_password(password, user)
        update_dict = {"hashed_password": await self.hash_password(password)}
        if self.revoke_sessions_on_change:
            update_dict.update(self._revocation_values(user, keep_token_id=None))
        updated_user = await self.user_db.update_if(
            user, update_dict, expected={"hashed_password": current_hash}
        )
        if updated_user is None:
            raise exceptions.InvalidResetPasswordToken()
        await self.on_after_reset_password(updated_user, request)
        return updated_user

    # --- updates and deletion --------------------------------------------------------

    @audited_update
    async def update(
        self,
        user_update: schemas.UU,
        user: models.UP,
        safe: bool = False,
        request: Request | None = None,
    ) -> models.UP:
        """Update a user; triggers `on_after_update`.

        With `safe=True` (a user changing their own account) privileged fields are
        ignored and a new password requires `current_password`; the caller's own
        session survives the revocation that a password or e-mail change causes.
        Raises `UserAlreadyExists` or `InvalidPasswordException`.
        """
        if safe:
            updated_user_data = user_update.create_update_dict()
        else:
            updated_user_data = user_update.create_update_dict_superuser()
        if safe and self.require_current_password and updated_user_data.get("password") is not None:
            await self._check_current_password(user, getattr(user_update, "current_password", None))
        keep = _request_token_id(request) if safe else None
        new_email = await self._pending_email_change(user, updated_user_data, safe, request)
        updated_user = await self._update(user, updated_user_data, keep_token_id=keep)
        if new_email is not None:
            await self.request_email_change(updated_user, new_email, request)
        await self.on_after_update(updated_user, updated_user_data, request)
        return updated_user

    async def _check_current_password(self, user: models.UP, current_password: str | None) -> None:
        if not current_password:
            raise exceptions.InvalidPasswordException(reason="CURRENT_PASSWORD_REQUIRED")
        verified, _ = await run_cpu_bound(
            self.password_helper.verify_and_update, current_password, user.hashed_password
        )
        if not verified:
            raise exceptions.InvalidPasswordException(reason="CURRENT_PASSWORD_INVALID")

    @audited("delete", user_arg="user")
    async def delete(self, user: models.UP, request: Request | None = None) -> None:
        """Delete a user; triggers `on_before_delete` and `on_after_delete`."""
        await self.on_before_delete(user, request)
        await self.user_db.delete(user)
        await self.on_after_delete(user, request)

    async def revoke_tokens(self, user: models.UP, keep_token_id: str | None = None) -> models.UP:
        """End every token of the user issued before now, but the one named."""
        values = self._revocation_values(user, keep_token_id)
        if not values:
            return user
        return await self.user_db.update(user, values)

    def _revocation_values(self, user: models.UP, keep_token_id: str | None) -> dict[str, Any]:
        if not hasattr(type(user), "tokens_valid_after"):
            return {}  # a model without the column: its tokens cannot be revoked this way
        return {
            "tokens_valid_after": datetime.now(timezone.utc),
            "tokens_valid_except": keep_token_id,
        }

    async def _update(
        self,
        user: models.UP,
        update_dict: dict[str, Any],
        keep_token_id: str | None = None,
    ) -> models.UP:
        validated: dict[str, Any] = {}
        revoke = False
        for field, value in update_dict.items():
            if value is None and field in _NOT_NULL_FIELDS:
                continue  # `"email": null` and the like: nothing to change (not a 500)
            if field == "email" and value != user.email:
                if normalize_email(value) != normalize_email(user.email):
                    if await self.user_db.get_by_email(value) is not None:
                        raise exceptions.UserAlreadyExists()
                    validated["is_verified"] = False
                    revoke = True
                validated["email"] = value
            elif field == "password":
                if value is not None:
                    await self.validate_password(value, user)
                    validated["hashed_password"] = await self.hash_password(value)
                    revoke = True
            elif field == "is_active" and value is False and user.is_active:
                validated[field] = value
                revoke = True
            else:
                validated[field] = value
        if revoke and self.revoke_sessions_on_change:
            validated.update(self._revocation_values(user, keep_token_id))
        return await self.user_db.update(user, validated)

    # --- passwords -------------------------------------------------------------------

    async def validate_password(self, password: str, user: schemas.UC | models.UP | Any) -> None:
        """Refuse a password by raising `InvalidPasswordException(reason)`.

        The default applies `password_policy` (length, common passwords, the user's
        e-mail); override it to add rules, calling `super()` to keep these.
        """
        reason = self.password_policy.check(password, getattr(user, "email", None))
        if reason is not None:
            raise exceptions.InvalidPasswordException(reason=reason)

    async def hash_password(self, password: str) -> str:
        """Hash in a worker thread, never on the event loop."""
        return await run_cpu_bound(self.password_helper.hash, password)

    def _spend_one_verification(self, password: str) -> None:
        verify_dummy = getattr(self.password_helper, "verify_dummy", None)
        if verify_dummy is not None:
            verify_dummy(password)
        else:
            self.password_helper.hash(password)


UserManagerDependency = DependencyCallable[BaseUserManager[models.UP, models.ID]]
