"""What the OAuth sign-in and associate routers share: the `/authorize` step, the
callback's checks and provider calls, error answers, and the encryption of provider
tokens before they are stored."""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse
from httpx_oauth.oauth2 import BaseOAuth2, OAuth2Token
from pydantic import BaseModel

from doorkeeper.audit import FAILURE, record_event
from doorkeeper.jwt import SecretType
from doorkeeper.oauth.crypto import TokenCipher
from doorkeeper.oauth.errors import OAuthError
from doorkeeper.oauth.profile import (
    OAuthProfile,
    OAuthProfileClient,
    exchange_code,
    fetch_profile,
    uses_nonce,
)
from doorkeeper.router.common import ErrorCode, ErrorModel, OpenAPIResponseType, example
from doorkeeper.router.oauth_redirect import InvalidRedirect, RedirectPolicy, check_redirect_url
from doorkeeper.router.oauth_state import (
    CallbackState,
    OAuthStateError,
    OAuthStateManager,
    StateCookie,
)
from doorkeeper.singleuse import MemorySingleUseStore, SingleUseStore

__all__ = [
    "CALLBACK_DESCRIPTION",
    "CompletedCallback",
    "OAuth2AuthorizeResponse",
    "OAuthFlow",
    "authorize_responses",
    "build_flow",
    "callback_responses",
    "redirect_to",
    "refuse",
    "signed_in_responses",
]

logger = logging.getLogger("doorkeeper.oauth")

MAX_CODE_LENGTH = 4096
MAX_ACCOUNT_FIELD_LENGTH = 320
"""The account id and e-mail columns of FastAPI Users' `oauth_account` table."""
_PROVIDER_ERROR = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class OAuth2AuthorizeResponse(BaseModel):
    authorization_url: str


@dataclass(frozen=True)
class CompletedCallback:
    """A callback whose state, code and provider answers were all good."""

    state: CallbackState
    token: OAuth2Token
    profile: OAuthProfile
    email_verified: bool | None
    """What the provider said of the e-mail; `None` for a client that cannot say."""


def _provider_error_reason(error: str) -> str:
    return error if _PROVIDER_ERROR.fullmatch(error) else "invalid"


def authorize_responses() -> OpenAPIResponseType:
    """The OpenAPI entry of `/authorize`'s 400: a `next` target off the allowed origins."""
    content = {"application/json": {"example": {"detail": ErrorCode.OAUTH_INVALID_REDIRECT.value}}}
    return {
        status.HTTP_400_BAD_REQUEST: {
            "model": ErrorModel,
            "description": "`next` is not on the front end's origin nor a trusted one.",
            "content": content,
        }
    }


def signed_in_responses(requires_verification: bool) -> OpenAPIResponseType:
    """The OpenAPI entries of a route for the signed-in, active (and verified) user."""
    responses: OpenAPIResponseType = {
        status.HTTP_401_UNAUTHORIZED: {"description": "Missing token or inactive user."}
    }
    if requires_verification:
        responses[status.HTTP_403_FORBIDDEN] = {"description": "Not a verified user."}
    return responses


def callback_responses(*codes: ErrorCode) -> OpenAPIResponseType:
    """The OpenAPI entries of a callback's 400 and 502 answers."""
    examples = {
        code.value: example(code.value.replace("_", " ").capitalize() + ".", code.value)
        for code in (
            ErrorCode.OAUTH_AUTHORIZATION_ERROR,
            ErrorCode.OAUTH_CODE_MISSING,
            ErrorCode.ACCESS_TOKEN_DECODE_ERROR,
            ErrorCode.ACCESS_TOKEN_ALREADY_EXPIRED,
            ErrorCode.OAUTH_INVALID_STATE,
            ErrorCode.OAUTH_STATE_ALREADY_USED,
            ErrorCode.OAUTH_TOKEN_EXCHANGE_FAILED,
            ErrorCode.OAUTH_ID_TOKEN_INVALID,
            ErrorCode.OAUTH_NONCE_MISMATCH,
            ErrorCode.OAUTH_INVALID_RESPONSE,
            ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL,
            *codes,
        )
    }
    content = {"application/json": {"examples": examples}}
    provider = {"application/json": {"example": {"detail": ErrorCode.OAUTH_PROVIDER_ERROR.value}}}
    return {
        status.HTTP_400_BAD_REQUEST: {"model": ErrorModel, "content": content},
        status.HTTP_502_BAD_GATEWAY: {
            "model": ErrorModel,
            "description": "The provider failed: unreachable, too slow, or a bad answer.",
            "content": provider,
        },
    }


class OAuthFlow:
    """One provider's flow for one callback route.

    :param oauth_client: the httpx-oauth client (its `name` names the routes).
    :param states: issues and redeems the states of the callback route.
    :param redirect_url: the callback's absolute URL; `None`: the route's own URL.
    :param redirect: where the browser may go after the callback (`None`: nowhere, the
        callback answers like FastAPI Users').
    :param token_cipher: encrypts provider tokens before they are stored (`None`: stored
        as they are).
    :param assume_email_verified: take the e-mail of a client that cannot say whether it
        is verified (a plain httpx-oauth client) as verified.
    """

    def __init__(
        self,
        oauth_client: BaseOAuth2[Any],
        states: OAuthStateManager,
        *,
        redirect_url: str | None,
        redirect: RedirectPolicy | None,
        token_cipher: TokenCipher | None,
        assume_email_verified: bool = False,
    ) -> None:
        self.client = oauth_client
        self.states = states
        self.redirect_url = redirect_url
        self.redirect = redirect
        self.token_cipher = token_cipher
        self.assume_email_verified = assume_email_verified

    @property
    def name(self) -> str:
        return self.client.name

    def callback_url(self, request: Request) -> str:
        if self.redirect_url is not None:
            return self.redirect_url
        return str(request.url_for(self.states.route))

    # --- /authorize ------------------------------------------------------------------

    async def authorize(
        self,
        request: Request,
        response: Response,
        scopes: Sequence[str] | None,
        next_url: str | None,
        *,
        subject: str | None = None,
    ) -> OAuth2AuthorizeResponse:
        """The authorization URL, with state, PKCE S256 and (OpenID Connect) nonce; the
        browser-binding cookie goes on `response`."""
        target = None
        if next_url is not None:
            if self.redirect is None:
                raise _error(ErrorCode.OAUTH_INVALID_REDIRECT)
            try:
                target = self.redirect.resolve(next_url)
            except InvalidRedirect:
                raise _error(ErrorCode.OAUTH_INVALID_REDIRECT) from None
        binding = self.states.browser_binding(request)
        issued = self.states.issue(binding, subject=subject, next_url=target)
        scope = list(scopes) if scopes else None
        if scope is not None and uses_nonce(self.client) and "openid" not in scope:
            scope.insert(0, "openid")
        try:
            url = await self.client.get_authorization_url(
                self.callback_url(request),
                issued.state,
                scope,
                code_challenge=issued.code_challenge,
                code_challenge_method="S256",
                extras_params={"nonce": issued.nonce} if issued.nonce else None,
            )
        except OAuthError as error:
            raise HTTPException(status_code=error.status_code, detail=error.code) from error
        self.states.set_cookie(response, binding)
        response.headers["Cache-Control"] = "no-store"
        return OAuth2AuthorizeResponse(authorization_url=url)

    # --- /callback -------------------------------------------------------------------

    async def complete(
        self,
        request: Request,
        user_manager: Any,
        event: str,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        subject: str | None = None,
    ) -> CompletedCallback:
        """Check the callback, spend its state, exchange the code and read the profile.

        Every refusal is recorded as a failed `event` and raised as an `HTTPException`:
        400 with a stable code, or 502 when the provider failed.
        """
        try:
            return await self._complete(request, code, state, error, subject)
        except HTTPException as refusal:
            await self.record_failure(user_manager, request, event, refusal)
            raise

    async def _complete(
        self,
        request: Request,
        code: str | None,
        state: str | None,
        error: str | None,
        subject: str | None,
    ) -> CompletedCallback:
        if error is not None:
            raise _error(ErrorCode.OAUTH_AUTHORIZATION_ERROR, _provider_error_reason(error))
        if not code:
            raise _error(ErrorCode.OAUTH_CODE_MISSING)
        if len(code) > MAX_CODE_LENGTH:
            raise _error(ErrorCode.OAUTH_TOKEN_EXCHANGE_FAILED)
        try:
            checked = self.states.read(request, state)
            if subject is not None and checked.subject != subject:
                raise OAuthStateError(ErrorCode.OAUTH_INVALID_STATE)
            await self.states.spend(checked)
        except OAuthStateError as refused:
            raise _error(refused.code) from None
        try:
            token = await exchange_code(
                self.client, code, self.callback_url(request), checked.code_verifier
            )
            profile = await fetch_profile(self.client, token, nonce=checked.nonce)
        except OAuthError as failure:
            raise HTTPException(status_code=failure.status_code, detail=failure.code) from None
        except (TypeError, ValueError) as failure:
            # httpx-oauth's OAuth2Token chokes on a token answer that is not an object or
            # whose `expires_in` is not a number: the provider's fault.
            logger.warning("%s: unreadable provider answer (%s)", self.name, type(failure).__name__)
            raise HTTPException(
                status_code=status.HTTP_502_BAD_GATEWAY,
                detail=ErrorCode.OAUTH_PROVIDER_ERROR.value,
            ) from None
        if len(profile.account_id) > MAX_ACCOUNT_FIELD_LENGTH:
            raise _error(ErrorCode.OAUTH_INVALID_RESPONSE)
        email = profile.email
        if email is None or len(email) > MAX_ACCOUNT_FIELD_LENGTH or "@" not in email:
            raise _error(ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL)
        return CompletedCallback(checked, token, profile, self._email_verified(profile))

    def _email_verified(self, profile: OAuthProfile) -> bool | None:
        if isinstance(self.client, OAuthProfileClient):
            return profile.email_verified
        return True if self.assume_email_verified else None

    async def record_failure(
        self, user_manager: Any, request: Request, event: str, refusal: HTTPException
    ) -> None:
        detail = refusal.detail
        reason = detail.get("code") if isinstance(detail, dict) else detail
        await record_event(
            user_manager,
            event,
            outcome=FAILURE,
            request=request,
            provider=self.name,
            reason=str(reason),
        )

    # --- storing the account -----------------------------------------------------------

    def account_arguments(
        self, completed: CompletedCallback
    ) -> tuple[str, str, str, str, int | None, str | None]:
        """The positional arguments of the manager's callbacks after the user (FastAPI
        Users' order), with the provider tokens encrypted."""
        token = completed.token
        refresh_token = token.get("refresh_token")
        expires_at = token.get("expires_at")
        return (
            self.name,
            self._seal(str(token["access_token"])),
            completed.profile.account_id,
            str(completed.profile.email),
            expires_at if isinstance(expires_at, int) else None,
            self._seal(refresh_token) if isinstance(refresh_token, str) else None,
        )

    def _seal(self, value: str) -> str:
        return value if self.token_cipher is None else self.token_cipher.encrypt(value)


def _error(code: ErrorCode, reason: str | None = None) -> HTTPException:
    detail: Any = code.value if reason is None else {"code": code.value, "reason": reason}
    return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=detail)


CALLBACK_DESCRIPTION = "The response varies based on the authentication backend used."


def build_flow(
    oauth_client: BaseOAuth2[Any],
    state_secret: SecretType,
    route: str,
    redirect_url: str | None,
    cookie: StateCookie,
    *,
    state_lifetime_seconds: int,
    state_store: SingleUseStore | None,
    frontend_url: str | None,
    allowed_redirect_origins: Sequence[str],
    token_cipher: TokenCipher | None,
    encrypt_tokens: bool,
    assume_email_verified: bool = False,
) -> OAuthFlow:
    """The flow of one callback route, from the routers' arguments (see
    `doorkeeper.router.oauth.get_oauth_router`)."""
    if redirect_url is not None:
        check_redirect_url(redirect_url, allowed_redirect_origins)
    if encrypt_tokens and token_cipher is None:
        token_cipher = TokenCipher(state_secret)
    states = OAuthStateManager(
        state_secret,
        route=route,
        lifetime_seconds=state_lifetime_seconds,
        cookie=cookie,
        store=state_store or MemorySingleUseStore(),
        use_nonce=uses_nonce(oauth_client),
    )
    redirect = None
    if frontend_url is not None:
        redirect = RedirectPolicy(frontend_url, allowed_redirect_origins)
    return OAuthFlow(
        oauth_client,
        states,
        redirect_url=redirect_url,
        redirect=redirect,
        token_cipher=token_cipher if encrypt_tokens else None,
        assume_email_verified=assume_email_verified,
    )


def redirect_to(target: str, carrying: Response | None = None) -> Response:
    """A 303 to `target`, with the cookies `carrying` sets (a cookie login)."""
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    if carrying is not None:
        cookies = [item for item in carrying.raw_headers if item[0].lower() == b"set-cookie"]
        response.raw_headers.extend(cookies)
    response.headers["Cache-Control"] = "no-store"
    return response


async def refuse(
    flow: OAuthFlow, user_manager: Any, request: Request, event: str, code: ErrorCode
) -> HTTPException:
    """A 400 with `code`, recorded as a failed `event`."""
    refusal = HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=code.value)
    await flow.record_failure(user_manager, request, event, refusal)
    return refusal
