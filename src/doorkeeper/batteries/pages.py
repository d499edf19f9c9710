"""The pages the links in mails open on the ready-made server: verify an address, choose
a new password, ask for a reset link, confirm a new e-mail address.

Opening a page changes nothing (mail scanners follow links): the user presses a button,
and the page calls the API (`POST /auth/verify`, `/auth/reset-password`,
`/auth/forgot-password`, `/users/confirm-email`). The token stays in the page: it is
sent with no referrer, the page is not cached and cannot be framed, and no value is ever
written as HTML.
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from doorkeeper.router.common import DoorkeeperRoute

__all__ = ["PAGE_HEADERS", "pages_router"]

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
input,button{{font:inherit;padding:.4rem;margin:.3rem 0;width:100%}}</style>
</head><body><h1>{title}</h1>
<form id="form">{fields}<button type="submit">{button}</button></form>
<p id="result" role="status"></p>
<script>
const token = new URLSearchParams(location.search).get("token") || "";
const result = document.getElementById("result");
document.getElementById("form").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {body};
  let answer;
  try {{
    answer = await fetch("{endpoint}", {{method: "POST",
      headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(body)}});
  }} catch (error) {{
    result.textContent = "The server cannot be reached; try again later.";
    return;
  }}
  const data = await answer.json().catch(() => ({{}}));
  const detail = data && data.detail;
  const reason = detail && detail.reason ? detail.reason : detail;
  result.textContent = answer.ok ? "{success}" : "That did not work: " + (reason || answer.status);
}});
</script>
</body></html>
"""


def _page(
    title: str, fields: str, button: str, endpoint: str, body: str, success: str
) -> HTMLResponse:
    html = _PAGE.format(
        title=title, fields=fields, button=button, endpoint=endpoint, body=body, success=success
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


def pages_router(api_prefix: str = "/auth", users_prefix: str = "/users") -> APIRouter:
    """GET /verify, /reset-password, /forgot-password and /confirm-email (not in the
    OpenAPI schema)."""
    router = APIRouter(include_in_schema=False, route_class=DoorkeeperRoute)

    @router.get("/verify")
    async def verify_page() -> HTMLResponse:
        return _page(
            "Verify your e-mail address",
            "",
            "Verify my address",
            f"{api_prefix}/verify",
            "{token}",
            "Your address is verified. You can close this page.",
        )

    @router.get("/reset-password")
    async def reset_password_page() -> HTMLResponse:
        return _page(
            "Choose a new password",
            '<input name="password" type="password" autocomplete="new-password" required '
            'placeholder="New password" aria-label="New password">',
            "Set my password",
            f"{api_prefix}/reset-password",
            '{token, password: form.get("password")}',
            "Your password is changed: sign in with it.",
        )

    @router.get("/forgot-password")
    async def forgot_password_page() -> HTMLResponse:
        return _page(
            "Forgot your password?",
            '<input name="email" type="email" autocomplete="email" required '
            'placeholder="E-mail address" aria-label="E-mail address">',
            "Send me a reset link",
            f"{api_prefix}/forgot-password",
            '{email: form.get("email")}',
            "If this address has an account, a reset link is on its way.",
        )

    @router.get("/confirm-email")
    async def confirm_email_page() -> HTMLResponse:
        return _page(
            "Confirm your new e-mail address",
            "",
            "Use this address",
            f"{users_prefix}/confirm-email",
            "{token}",
            "Your account now uses this address: sign in with it.",
        )

    return router
