"""Security headers on every response, and CORS from settings.

Headers (OWASP HTTP Headers Cheat Sheet; MDN):
- `X-Content-Type-Options: nosniff`: browsers take our content types as given.
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page may frame us (the CSP form
  supersedes the header in modern browsers; both cost nothing).
- CSP `default-src 'none'` on everything but HTML: a JSON answer opened in a browser runs
  nothing. The HTML pages (the OpenAPI viewer, the development sign-in page) get only the
  frame-ancestors rule, since the viewer loads its scripts from a CDN.
- `Referrer-Policy: no-referrer`: URLs (which may carry a sign-in `state`) never leak onwards.
- `Cross-Origin-Opener-Policy: same-origin`.
- `Strict-Transport-Security: max-age=63072000; includeSubDomains` in production (two years,
  the hstspreload.org minimum is one), never in development where the server speaks plain http.
- `Cache-Control: no-store` unless a handler chose otherwise: answers carry tokens and
  personal data that no shared or browser cache should keep.
"""

from __future__ import annotations

from typing import Final

from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from training_analyzer.settings import Settings

HSTS: Final = "max-age=63072000; includeSubDomains"
_STRICT_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_FRAME_CSP: Final = "frame-ancestors 'none'"


def security_headers(*, production: bool) -> BeforeMessageSendHookHandler:
    """A `before_send` hook adding the security headers to every response start."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        content_type = headers.get("content-type") or ""
        if "Content-Security-Policy" not in headers:
            html = content_type.startswith("text/html")
            headers["Content-Security-Policy"] = _FRAME_CSP if html else _STRICT_CSP
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        if production:
            headers["Strict-Transport-Security"] = HSTS

    return add_headers


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the configured origins; None (no CORS headers at all) when none are set.

    Settings refuse a wildcard together with credentials. The API authenticates with a bearer
    header, not cookies, so credentials stay off unless TA_CORS_ALLOW_CREDENTIALS says so.
    """
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=settings.cors_allow_credentials,
        expose_headers=["Retry-After", "X-Request-ID", "WWW-Authenticate", "Location"],
        max_age=600,
    )
