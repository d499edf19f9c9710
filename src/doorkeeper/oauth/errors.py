"""The exceptions of the provider clients, each with a stable `code` and the HTTP status
a router answers with: 502 when the provider failed, 400 when its answer was refused."""

PROVIDER_ERROR = "OAUTH_PROVIDER_ERROR"
TOKEN_EXCHANGE_FAILED = "OAUTH_TOKEN_EXCHANGE_FAILED"  # noqa: S105 - an error code
ID_TOKEN_INVALID = "OAUTH_ID_TOKEN_INVALID"  # noqa: S105 - an error code
NONCE_MISMATCH = "OAUTH_NONCE_MISMATCH"
INVALID_RESPONSE = "OAUTH_INVALID_RESPONSE"


class OAuthError(Exception):
    """Base class. `code` is a stable UPPER_SNAKE string; `status_code` the HTTP status a
    router should answer with. The message is for logs: it never holds a token."""

    code: str = PROVIDER_ERROR
    status_code: int = 502

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class OAuthProviderError(OAuthError):
    """The provider failed: unreachable, timed out, answered 5xx or something unreadable,
    refused our client credentials, or published an unusable configuration (502)."""

    code = PROVIDER_ERROR
    status_code = 502


class OAuthDiscoveryError(OAuthProviderError):
    """The discovery document could not be read or was refused (wrong issuer, no S256,
    insecure endpoints, no usable signing algorithm or client authentication)."""


class OAuthResponseError(OAuthError):
    """The provider's answer was refused: it did not accept the access token, or what it
    said does not hold together (userinfo about another subject) (400)."""

    code = INVALID_RESPONSE
    status_code = 400


class OAuthTokenExchangeError(OAuthResponseError):
    """The token endpoint refused the authorization code (bad, used or expired code, wrong
    redirect URI, PKCE verifier that does not match) (400)."""

    code = TOKEN_EXCHANGE_FAILED


class IDTokenError(OAuthResponseError):
    """The ID token is missing, malformed, or fails a check: signature, `alg`, `kid`,
    `iss`, `aud`, `azp`, `exp`, `iat`, `sub` (400)."""

    code = ID_TOKEN_INVALID


class NonceMismatchError(IDTokenError):
    """The ID token's `nonce` is not the one this sign-in sent (400)."""

    code = NONCE_MISMATCH
