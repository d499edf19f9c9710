"""The ready-made auth server: a `Doorkeeper` configured by `DOORKEEPER_*` settings.

`doorkeeper serve` runs it; so does any ASGI server, e.g.
`uvicorn --factory doorkeeper.server:create_app`. Routes: everything of `auth.router`
(/auth/..., /users/...), the pages the links in mails open (/verify, /reset-password,
/forgot-password), GET /health, and the API documentation at /docs.
"""

from typing import Any

from fastapi import FastAPI, status
from fastapi.responses import JSONResponse, RedirectResponse

from doorkeeper import __version__
from doorkeeper.authentication.errors import SERVICE_UNAVAILABLE, is_unavailable_error
from doorkeeper.batteries.pages import pages_router
from doorkeeper.doorkeeper import Doorkeeper
from doorkeeper.settings import DoorkeeperSettings

__all__ = ["EMAIL_PATHS", "create_app"]

EMAIL_PATHS = {"login": "/docs"}
"""Links in mails: the server's own pages, and its API documentation to sign in."""

DESCRIPTION = (
    "Registration, sign-in (bearer token or cookie), e-mail verification, password "
    "reset and user administration. Sign in with **Authorize** (e-mail address as the "
    "username) to try the protected routes."
)


def create_app(settings: DoorkeeperSettings | None = None, **options: Any) -> FastAPI:
    """The server's app. `settings` default to the environment's; `options` go to
    `Doorkeeper` (e.g. `email_sender`)."""
    options.setdefault("email_paths", EMAIL_PATHS)
    auth = Doorkeeper(settings=settings, **options)
    app = FastAPI(
        title=auth.settings.app_name,
        version=__version__,
        description=DESCRIPTION,
        lifespan=auth.lifespan,
    )
    app.state.doorkeeper = auth
    app.include_router(auth.router)
    app.include_router(pages_router())

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/health", tags=["health"], name="health")
    async def health() -> JSONResponse:
        """200 when the database (and Redis, if used) answers; 503 otherwise."""
        try:
            await auth.adapter.ping()
            if auth.redis is not None:
                await auth.redis.ping()
        except Exception as error:
            if not is_unavailable_error(error):
                raise
            return JSONResponse(
                {"detail": SERVICE_UNAVAILABLE}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
            )
        return JSONResponse({"status": "ok"})

    return app
