"""Administration: who is an administrator, making the first one, and reading the audit log.

The administrator flag is the account's `role`. Guards read it fresh from storage on every
admin request rather than trusting the access token's `adm` claim, so a demotion takes effect
at once instead of after the token's 15 minutes.
"""

from __future__ import annotations

import enum

import msgspec

from training_analyzer.core.accounts import AuditEvent, Role, User
from training_analyzer.core.errors import Forbidden, InvalidInput
from training_analyzer.core.identity import check_password_rules, normalize_email
from training_analyzer.core.pagination import Page
from training_analyzer.ids import new_id
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.identity import PasswordHasher
from training_analyzer.ports.storage import Storage
from training_analyzer.services.accounts import Action, ClientInfo, default_display_name, record


class AdminOutcome(enum.StrEnum):
    """What `create_admin` did."""

    CREATED = "created"
    PROMOTED = "promoted"
    ALREADY_ADMIN = "already_admin"


class AdminService:
    """Administrator use cases, on ports only."""

    def __init__(self, *, storage: Storage, clock: Clock, passwords: PasswordHasher) -> None:
        self._storage = storage
        self._clock = clock
        self._passwords = passwords

    async def require_admin(self, *, user_id: str) -> User:
        """The acting user if it is an enabled administrator now; Forbidden otherwise."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
        if user is None or user.role is not Role.ADMIN or user.is_disabled:
            raise Forbidden("administrators only")
        return user

    async def audit_log(
        self, *, admin_id: str, cursor: str | None, limit: int, client: ClientInfo
    ) -> Page[AuditEvent]:
        """Every audit event, newest first (administrators only; the reading is audited).

        Raises Forbidden for anyone else, InvalidInput for a bad cursor or limit.
        """
        client = client.clipped()
        await self.require_admin(user_id=admin_id)
        now = self._clock.now()
        async with self._storage.system(reason="admin-audit-log") as uow:
            page = await uow.directory.audit_page(cursor=cursor, limit=limit)
            await record(uow, Action.ADMIN_AUDIT_VIEWED, admin_id, client, now)
        return page

    async def create_admin(
        self, *, email: str, password: str | None, client: ClientInfo, by: str = "cli"
    ) -> tuple[User, AdminOutcome]:
        """Make `email` an administrator: promote its account, or create one with `password`.

        Raises InvalidInput for a malformed email, or naming `password` when the account must
        be created and the password is missing or breaks the rules.
        """
        client = client.clipped()
        normalized = normalize_email(email)
        async with self._storage.system(reason="create-admin") as uow:
            existing = await uow.directory.find_user_by_email(email=normalized)
        if existing is not None and existing.role is Role.ADMIN:
            return existing, AdminOutcome.ALREADY_ADMIN
        password_hash = None
        if existing is None:
            if password is None:
                raise InvalidInput("password", "is required to create a new account")
            check_password_rules(password)
            password_hash = await self._passwords.hash(password=password)
        now = self._clock.now()
        async with self._storage.system(reason="create-admin") as uow:
            current = await uow.directory.find_user_by_email(email=normalized)
            if current is None:
                if password_hash is None:  # deleted meanwhile: a password is needed after all
                    raise InvalidInput("password", "is required to create a new account")
                user = User(
                    id=new_id(),
                    email=normalized,
                    display_name=default_display_name(normalized),
                    created_at=now,
                    updated_at=now,
                    role=Role.ADMIN,
                    password_hash=password_hash,
                )
                await uow.users.add(user_id=user.id, user=user)
                outcome = AdminOutcome.CREATED
            else:
                user = msgspec.structs.replace(current, role=Role.ADMIN, updated_at=now)
                await uow.users.update(user_id=user.id, user=user)
                outcome = AdminOutcome.PROMOTED
            await record(
                uow, Action.ADMIN_GRANTED, user.id, client, now, outcome=str(outcome), by=by
            )
        return user, outcome
