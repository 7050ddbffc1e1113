"""Administrator routes: a signed-in non-administrator gets 403 (a missing privilege, not a
hidden resource), an anonymous caller 401."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from training_analyzer.core.accounts import AuditEvent
from training_analyzer.core.identity import AccessClaims
from training_analyzer.entrypoints.http.auth import admin_guard
from training_analyzer.services.accounts import ClientInfo
from training_analyzer.services.admin import AdminService


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of audit events, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[AuditEvent]
    next_cursor: str | None


@get(
    "/admin/audit",
    tags=["admin"],
    summary="The audit log of security events (administrators)",
    description=(
        "Every account's events and those of no account (failed logins for unknown emails), "
        "newest first, keyset-paginated. Reading it is itself audited."
    ),
    guards=[admin_guard],
)
async def audit_log(
    admin: NamedDependency[AdminService],
    claims: NamedDependency[AccessClaims],
    client: NamedDependency[ClientInfo],
    cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> AuditPage:
    """Answer one page of the audit log."""
    page = await admin.audit_log(admin_id=claims.user_id, cursor=cursor, limit=limit, client=client)
    return AuditPage(items=page.items, next_cursor=page.next_cursor)


ROUTES: Final = [audit_log]
