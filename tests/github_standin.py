"""A local stand-in of GitHub's OAuth and API endpoints on 127.0.0.1 over real HTTP:
`/login/oauth/authorize`, `/login/oauth/access_token` (client credentials, single-use
code, `redirect_uri`, PKCE S256; errors in a 200 body, as GitHub answers),
`/api/v3/user` and `/api/v3/user/emails`.

    from tests.github_standin import github_standin_fixture  # noqa: F401  (the fixture)

    async def test_x(github_standin: GitHubStandIn) -> None:
        client = github_standin.client()   # doorkeeper.oauth.github(...) at the stand-in

Knobs (reset per test): `user` (the `/user` body), `emails` (the `/user/emails` list),
`failures.set("token" | "user" | "emails", mode)`, `require_pkce`. Records:
`authorize_requests`, `token_requests`, `counts`."""

import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from doorkeeper.oauth import GitHubClient, github
from tests.local_server import CLIENT_TIMEOUT, Failures, LocalServer, browser
from tests.oidc_provider import s256

__all__ = ["GitHubStandIn", "github_standin_fixture"]


class GitHubStandIn:
    client_id = "github-test-client"
    client_secret = "github-client-secret"

    def __init__(self) -> None:
        self.server = LocalServer(self._app())
        self.web_base = self.server.url
        self.api_base = f"{self.server.url}/api/v3"
        self.reset()
        self.server.start()

    def reset(self) -> None:
        self.user: dict[str, Any] = {"id": 4242, "login": "octocat", "email": None}
        self.emails: list[Any] = [
            {"email": "other@example.com", "primary": False, "verified": True},
            {"email": "octocat@example.com", "primary": True, "verified": True},
        ]
        self.failures = Failures()
        self.require_pkce = True
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.counts: Counter[str] = Counter()
        self._codes: dict[str, dict[str, Any]] = {}
        self._tokens: set[str] = set()

    def client(self, client_secret: str | None = None, **options: Any) -> GitHubClient:
        """`doorkeeper.oauth.github(...)` at the stand-in, waiting up to `CLIENT_TIMEOUT`
        unless `http_timeout` is given."""
        options.setdefault("http_timeout", CLIENT_TIMEOUT)
        return github(
            self.client_id,
            client_secret if client_secret is not None else self.client_secret,
            api_base=self.api_base,
            web_base=self.web_base,
            **options,
        )

    async def authorize(self, authorization_url: str) -> tuple[str, str | None]:
        async with browser() as http:
            response = await http.get(authorization_url)
        assert response.status_code == 302, response.text
        query = parse_qs(urlsplit(response.headers["location"]).query)
        return query["code"][0], query.get("state", [None])[0]

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/login/oauth/authorize", self._authorize),
                Route("/login/oauth/access_token", self._access_token, methods=["POST"]),
                Route("/api/v3/user", self._user),
                Route("/api/v3/user/emails", self._emails),
            ]
        )

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        if params.get("client_id") != self.client_id or "redirect_uri" not in params:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_hex(10)
        self._codes[code] = {
            "redirect_uri": params["redirect_uri"],
            "challenge": params.get("code_challenge"),
            "method": params.get("code_challenge_method"),
        }
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    def _answer(self, request: Request, body: dict[str, str]) -> Response:
        # GitHub answers form-encoded unless asked for JSON, and with 200 even on errors.
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(body)
        return Response(urlencode(body), media_type="application/x-www-form-urlencoded")

    async def _access_token(self, request: Request) -> Response:
        self.counts["token"] += 1
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        failure = await self.failures.response("token", request)
        if failure is not None:
            return failure
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return self._answer(request, {"error": "incorrect_client_credentials"})
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return self._answer(request, {"error": "bad_verification_code"})
        verifier = form.get("code_verifier")
        if grant["challenge"] is None:
            pkce_ok = not self.require_pkce and not verifier
        else:
            pkce_ok = grant["method"] == "S256" and bool(verifier)
            pkce_ok = pkce_ok and s256(verifier or "") == grant["challenge"]
        if not pkce_ok:
            return self._answer(request, {"error": "bad_verification_code"})
        token = f"gho_{secrets.token_hex(16)}"
        self._tokens.add(token)
        body = {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        return self._answer(request, body)

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("bearer", "token") and token in self._tokens

    async def _user(self, request: Request) -> Response:
        self.counts["user"] += 1
        failure = await self.failures.response("user", request)
        if failure is not None:
            return failure
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.user)

    async def _emails(self, request: Request) -> Response:
        self.counts["emails"] += 1
        failure = await self.failures.response("emails", request)
        if failure is not None:
            return failure
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.emails)


_SHARED: list[GitHubStandIn] = []


def shared_standin() -> GitHubStandIn:
    if not _SHARED:
        _SHARED.append(GitHubStandIn())
    return _SHARED[0]


@pytest.fixture(name="github_standin")
def github_standin_fixture() -> Iterator[GitHubStandIn]:
    standin = shared_standin()
    standin.reset()
    yield standin
    standin.reset()
