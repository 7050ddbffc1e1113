"""The signed-in user's own account and sessions.

Every route here acts for the token's user only: an id naming anything else (another user's
session, a revoked one, a made-up one) is 404, never 403, so ids reveal nothing.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from litestar import delete, get, patch
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from training_analyzer.container import AppContainer
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.identity import AccessClaims
from training_analyzer.services.accounts import AccountService, ClientInfo, Profile, SessionView

ME_BODY_MAX_BYTES: Final = 16_384


class ProfilePatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; absent (or null) fields stay as they are."""

    display_name: Annotated[str, msgspec.Meta(max_length=400)] | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class SessionList(msgspec.Struct, frozen=True, kw_only=True):
    """The user's active sessions, newest first."""

    items: list[SessionView]


@get("/me", tags=["me"], summary="The signed-in account")
async def get_me(
    accounts: NamedDependency[AccountService], claims: NamedDependency[AccessClaims]
) -> Profile:
    """Answer the account of the token's user."""
    return await accounts.me(user_id=claims.user_id)


@patch(
    "/me",
    tags=["me"],
    summary="Change the display name or timezone",
    description="`timezone` must be an IANA name such as Europe/Berlin.",
    request_max_body_size=ME_BODY_MAX_BYTES,
    status_code=200,
)
async def patch_me(
    data: JSONBody[ProfilePatch],
    accounts: NamedDependency[AccountService],
    claims: NamedDependency[AccessClaims],
    client: NamedDependency[ClientInfo],
    container: NamedDependency[AppContainer],
) -> Profile:
    """Apply the change (a new timezone re-buckets the daily loads) and answer the account."""
    if data.display_name is None and data.timezone is None:
        raise InvalidInput("body", "name at least one of display_name, timezone")
    before = await accounts.me(user_id=claims.user_id)
    profile = await accounts.update_me(
        user_id=claims.user_id,
        display_name=data.display_name,
        timezone=data.timezone,
        client=client,
    )
    if profile.timezone != before.timezone:
        # Days and weeks are bucketed in the user's timezone: re-bucket every daily load.
        activities = await container.activities()
        await activities.rebuild_daily_loads(user_id=claims.user_id)
    return profile


@delete(
    "/me",
    tags=["me"],
    summary="Delete the account and everything it owns",
    description=(
        "Erases every row the account owns in every table, then the account; audited. "
        "Access tokens already issued stop working at the next request that reads the account."
    ),
    status_code=204,
)
async def delete_me(
    accounts: NamedDependency[AccountService],
    claims: NamedDependency[AccessClaims],
    client: NamedDependency[ClientInfo],
) -> None:
    """Erase the account."""
    await accounts.delete_me(user_id=claims.user_id, client=client)


@get("/me/sessions", tags=["me"], summary="Active sessions (signed-in devices)")
async def list_sessions(
    accounts: NamedDependency[AccountService], claims: NamedDependency[AccessClaims]
) -> SessionList:
    """Answer the active sessions, newest first."""
    return SessionList(items=await accounts.list_sessions(user_id=claims.user_id))


@delete(
    "/me/sessions/{session_id:str}",
    tags=["me"],
    summary="Revoke one session",
    description="Its refresh token stops working; 404 for any id that is not an active session.",
    status_code=204,
)
async def revoke_session(
    accounts: NamedDependency[AccountService],
    claims: NamedDependency[AccessClaims],
    client: NamedDependency[ClientInfo],
    session_id: Annotated[str, PathParameter(max_length=64)],
) -> None:
    """Revoke the session."""
    await accounts.revoke_session(user_id=claims.user_id, session_id=session_id, client=client)


ROUTES: Final = [get_me, patch_me, delete_me, list_sessions, revoke_session]
