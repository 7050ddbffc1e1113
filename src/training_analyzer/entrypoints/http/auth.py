"""Bearer authentication for every route, public routes marked explicitly, and the admin guard.

Every route requires `Authorization: Bearer <access token>` unless its handler is declared with
`exclude_from_auth=True` (the tenant-isolation test keeps the list of those on purpose). A
missing or bad token answers 401 with a problem body and `WWW-Authenticate: Bearer` (RFC 6750
§3); the handler never runs. The verified claims are `request.user`; handlers take them as the
`claims` dependency.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from training_analyzer.container import AppContainer
from training_analyzer.core.errors import Unauthorized
from training_analyzer.core.identity import AccessClaims
from training_analyzer.entrypoints.http.errors import BEARER_CHALLENGE
from training_analyzer.services.accounts import ClientInfo

# The OpenAPI documents and their viewer are public.
SCHEMA_PATH: Final = "/schema"
# A handler declared with this opt set to True is public (no token needed).
PUBLIC_OPT: Final = "exclude_from_auth"
# Where create_app keeps the container in the app's state.
CONTAINER_STATE_KEY: Final = "container"
_MAX_AUTHORIZATION_CHARS = 8192


def challenge(error: str | None = None, description: str | None = None) -> str:
    """A `WWW-Authenticate` value for the Bearer scheme (RFC 6750 §3)."""
    if error is None:
        return BEARER_CHALLENGE
    value = f'Bearer realm="training-analyzer", error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return value


async def require_bearer(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    """App-wide guard: verify the access token unless the route is public.

    A guard (not a middleware) so a refusal goes through the route's own error handling and
    carries the request id like every other answer.
    """
    if route_handler.opt.get(PUBLIC_OPT) or connection.scope["path"].startswith(SCHEMA_PATH):
        return
    header = connection.headers.get("authorization")
    if not header:
        raise NotAuthorizedException(
            "this route needs a bearer access token", headers={"WWW-Authenticate": challenge()}
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if (
        scheme.lower() != "bearer"
        or not token
        or len(header) > _MAX_AUTHORIZATION_CHARS
        or " " in token
    ):
        raise NotAuthorizedException(
            "the Authorization header must be 'Bearer <access token>'",
            headers={"WWW-Authenticate": challenge("invalid_request")},
        )
    container: AppContainer = connection.app.state[CONTAINER_STATE_KEY]
    accounts = await container.accounts()
    try:
        claims = accounts.authenticate(access_token=token)
    except Unauthorized as refused:
        raise NotAuthorizedException(
            refused.message,
            headers={"WWW-Authenticate": challenge("invalid_token", refused.message)},
        ) from None
    connection.scope["user"] = claims
    connection.scope["auth"] = token


async def provide_claims(request: Request[Any, Any, Any]) -> AccessClaims:
    """The verified claims of the request's access token (the `claims` dependency)."""
    claims = request.scope.get("user")
    if not isinstance(claims, AccessClaims):  # a public route asked for them: a wiring bug
        raise Unauthorized("this route needs a bearer access token")
    return claims


def client_info(connection: ASGIConnection[Any, Any, Any, Any]) -> ClientInfo:
    """The client address (as the server resolved it; see TA_TRUSTED_PROXIES) and user agent."""
    client = connection.client
    return ClientInfo(
        ip=client.host if client is not None else None,
        user_agent=connection.headers.get("user-agent"),
    )


async def provide_client(request: Request[Any, Any, Any]) -> ClientInfo:
    """The `client` dependency: who is asking."""
    return client_info(request)


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: enabled administrators only (the role is read fresh, not from the token).

    A signed-in non-administrator gets 403: the route is not another user's resource but a
    privilege they lack, so this is the one place 403 is the right answer.
    """
    claims = connection.scope.get("user")
    if not isinstance(claims, AccessClaims):
        raise Unauthorized("this route needs a bearer access token")
    container: AppContainer = connection.app.state[CONTAINER_STATE_KEY]
    admin = await container.admin()
    await admin.require_admin(user_id=claims.user_id)
