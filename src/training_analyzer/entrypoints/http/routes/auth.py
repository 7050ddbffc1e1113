"""Sign-up, sign-in (password and Google), token refresh and logout: the public auth routes.

Bodies are JSON in snake_case, decoded into structs that refuse unknown fields, and at most
`AUTH_BODY_MAX_BYTES`; token answers are shaped like OAuth 2.0's (RFC 6749 §5.1).
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode, urlsplit

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Redirect

from training_analyzer.container import AppContainer
from training_analyzer.services.accounts import (
    AccountService,
    ClientInfo,
    TokenPair,
    new_browser_binding,
)

# Auth bodies are a few hundred bytes; 16 KiB leaves room for a 1024-character password in
# any encoding and refuses anything else before it is parsed.
AUTH_BODY_MAX_BYTES: Final = 16_384
CALLBACK_PATH: Final = "/auth/google/callback"
# The cookie binding a Google sign-in to the browser that started it (RFC 6749 §10.12). Over
# https it is a `__Host-` cookie (Secure, Path=/, no Domain: no sibling host or plain-http
# page can set or replace it). A `__Host-` cookie must be Secure, which a plain-http
# development server cannot deliver, so there it has a plain name, confined to the sign-in
# paths. HttpOnly either way, and SameSite=Lax: the provider's redirect back is a top-level
# GET navigation, which Lax lets through.
BINDING_COOKIE_HTTPS: Final = "__Host-ta_oidc"
BINDING_COOKIE_HTTP: Final = "ta_oidc"

EmailField = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
PasswordField = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
TokenField = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class RegisterRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new password account."""

    email: EmailField
    password: PasswordField
    display_name: str | None = None


class LoginRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Email and password."""

    email: EmailField
    password: PasswordField


class RefreshRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A refresh token to rotate (refresh) or end (logout)."""

    refresh_token: TokenField


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """OAuth 2.0-shaped tokens: a 15-minute bearer access token and an opaque refresh token."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


def _binding_cookie(container: AppContainer, value: str, max_age: int) -> Cookie:
    """The browser-binding cookie for this deployment's public base URL (max_age 0 clears)."""
    base = urlsplit(container.settings.effective_public_base_url)
    if base.scheme == "https":
        name, path, secure = BINDING_COOKIE_HTTPS, "/", True
    else:
        name, path, secure = BINDING_COOKIE_HTTP, base.path.rstrip("/") + "/auth/google", False
    return Cookie(
        key=name,
        value=value,
        max_age=max_age,
        path=path,
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )


@post(
    "/auth/register",
    tags=["auth"],
    summary="Create a password account and sign in",
    description=(
        "Password: 10 to 1024 characters. An email that cannot be used answers 409 with a "
        "message that does not say why. Rate-limited per IP and per email (429 + Retry-After)."
    ),
    exclude_from_auth=True,
    security=[{}],
    request_max_body_size=AUTH_BODY_MAX_BYTES,
    status_code=201,
)
async def register(
    data: JSONBody[RegisterRequest],
    accounts: NamedDependency[AccountService],
    client: NamedDependency[ClientInfo],
) -> TokenResponse:
    """Register with email and password; answer the new session's tokens."""
    pair = await accounts.register(
        email=data.email, password=data.password, display_name=data.display_name, client=client
    )
    return _tokens(pair)


@post(
    "/auth/login",
    tags=["auth"],
    summary="Sign in with email and password",
    description=(
        "Any failure answers 401 'invalid email or password', whether or not the email exists. "
        "Rate-limited per IP and per email (429 + Retry-After)."
    ),
    exclude_from_auth=True,
    security=[{}],
    request_max_body_size=AUTH_BODY_MAX_BYTES,
    status_code=200,
)
async def login(
    data: JSONBody[LoginRequest],
    accounts: NamedDependency[AccountService],
    client: NamedDependency[ClientInfo],
) -> TokenResponse:
    """Sign in; answer a new session's tokens."""
    return _tokens(await accounts.login(email=data.email, password=data.password, client=client))


@get(
    "/auth/google/login",
    tags=["auth"],
    summary="Start 'Sign in with Google' (302 to the provider)",
    description=(
        "Redirects the browser to Google (or, without TA_GOOGLE_CLIENT_ID outside production, "
        "straight to the callback through the development stand-in). `return_to`, on an "
        "allowed origin, is where the callback sends the browser with the tokens in the URL "
        "fragment; without it the callback answers the tokens as JSON. Sets an HttpOnly "
        "cookie (`__Host-ta_oidc` over https, `ta_oidc` on plain-http development) that "
        "binds the sign-in to this browser; the callback requires it."
    ),
    exclude_from_auth=True,
    security=[{}],
    status_code=302,
)
async def google_login(
    accounts: NamedDependency[AccountService],
    container: NamedDependency[AppContainer],
    client: NamedDependency[ClientInfo],
    return_to: Annotated[str | None, QueryParameter(max_length=2048)] = None,
) -> Redirect:
    """Store a new sign-in flow and redirect to the provider."""
    callback = container.settings.effective_public_base_url + CALLBACK_PATH
    binding = new_browser_binding()
    url = await accounts.begin_external_sign_in(
        redirect_uri=callback, return_to=return_to, browser_binding=binding, client=client
    )
    cookie = _binding_cookie(container, binding, accounts.sign_in_flow_ttl_s)
    return Redirect(url, status_code=302, cookies=[cookie])


@get(
    CALLBACK_PATH,
    tags=["auth"],
    summary="Finish 'Sign in with Google'",
    description=(
        "The provider redirects here. A missing, replayed, tampered or expired `state`, or "
        "one started in another browser, is 400 (`argument: state`); no sign-in cookie is 400 "
        "(`argument: cookie`); a refused code or an ID token that does not verify (issuer, "
        "audience, expiry, nonce, unverified email) is 401. Nothing is created unless every "
        "check passes. A successful sign-in clears the cookie."
    ),
    exclude_from_auth=True,
    security=[{}],
    status_code=200,
)
async def google_callback(
    request: Request[Any, Any, Any],
    accounts: NamedDependency[AccountService],
    container: NamedDependency[AppContainer],
    client: NamedDependency[ClientInfo],
    # `state` is a reserved Litestar parameter name; the query key is still "state".
    oauth_state: Annotated[str | None, QueryParameter(name="state", max_length=2048)] = None,
    code: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    error: Annotated[str | None, QueryParameter(max_length=256)] = None,
) -> Response[Any]:
    """Exchange the code, sign the user in (creating or linking the account), answer tokens."""
    # A refusal leaves the cookie to expire with its flow: a forged callback must not be able
    # to cancel the sign-in this browser has in progress.
    cleared = _binding_cookie(container, "", 0)
    result = await accounts.complete_external_sign_in(
        state=oauth_state,
        code=code,
        error=error,
        browser_binding=request.cookies.get(cleared.key),
        client=client,
    )
    tokens = _tokens(result.tokens)
    if result.return_to is None:
        return Response(tokens, status_code=201 if result.created else 200, cookies=[cleared])
    # The fragment never reaches a server (RFC 3986 §3.5), so the tokens stay in the browser.
    fragment = urlencode(msgspec.structs.asdict(tokens))
    return Redirect(
        f"{result.return_to.split('#', 1)[0]}#{fragment}", status_code=302, cookies=[cleared]
    )


@post(
    "/auth/refresh",
    tags=["auth"],
    summary="Rotate a refresh token",
    description=(
        "Answers a new token pair; the presented refresh token is spent. Presenting a spent "
        "token again revokes every session descended from the same sign-in (401)."
    ),
    exclude_from_auth=True,
    security=[{}],
    request_max_body_size=AUTH_BODY_MAX_BYTES,
    status_code=200,
)
async def refresh(
    data: JSONBody[RefreshRequest],
    accounts: NamedDependency[AccountService],
    client: NamedDependency[ClientInfo],
) -> TokenResponse:
    """Rotate the refresh token; answer the new pair."""
    return _tokens(await accounts.refresh(refresh_token=data.refresh_token, client=client))


@post(
    "/auth/logout",
    tags=["auth"],
    summary="End the session of a refresh token",
    description="Always 204 (an unknown token is already logged out). The token is the credential.",
    exclude_from_auth=True,
    security=[{}],
    request_max_body_size=AUTH_BODY_MAX_BYTES,
    status_code=204,
)
async def logout(
    data: JSONBody[RefreshRequest],
    accounts: NamedDependency[AccountService],
    client: NamedDependency[ClientInfo],
) -> None:
    """Revoke the session the refresh token belongs to."""
    await accounts.logout(refresh_token=data.refresh_token, client=client)


ROUTES: Final = [register, login, google_login, google_callback, refresh, logout]
