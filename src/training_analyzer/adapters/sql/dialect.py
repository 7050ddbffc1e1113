"""What the SQL repositories need from a database connection, whichever the dialect.

SQL is written once with named parameters (`:name`), which sqlite3 accepts natively; for asyncpg
each `Query` is rewritten once to `$1..$n` with the parameter order remembered. Values cross
the boundary in Python types (aware datetimes, dates, bools, enums); each connection converts
them to what its database stores:

| Python      | PostgreSQL      | SQLite                                          |
|-------------|-----------------|-------------------------------------------------|
| datetime    | timestamptz     | INTEGER microseconds since the Unix epoch (UTC) |
| date        | date            | TEXT 'YYYY-MM-DD'                               |
| bool        | boolean         | INTEGER 0/1                                     |
| StrEnum     | text            | TEXT                                            |

Integer microseconds sort and compare exactly (keyset pagination needs that), cost 8 bytes, and
survive SQLite's NUMERIC affinity of a column declared TIMESTAMPTZ unchanged.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, Protocol

from training_analyzer.core.errors import Forbidden

type SqlDialect = Literal["sqlite", "postgres"]

# `:name` not preceded by another ':' (a PostgreSQL cast) or a word character (a time literal).
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Query:
    """A SQL statement with `:name` parameters, and its cached asyncpg form."""

    __slots__ = ("_postgres", "is_write", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        # Writes can fail on a constraint; adapters guard them so a failure (Conflict,
        # NotFound) leaves the rest of the unit of work intact on every dialect.
        self.is_write = text.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        self._postgres: tuple[str, tuple[str, ...]] | None = None

    @property
    def postgres(self) -> tuple[str, tuple[str, ...]]:
        """The statement with `$n` placeholders, and the parameter name of each position."""
        if self._postgres is None:
            order: list[str] = []

            def number(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in order:
                    order.append(name)
                return f"${order.index(name) + 1}"

            self._postgres = (_NAMED.sub(number, self.text), tuple(order))
        return self._postgres

    def __repr__(self) -> str:
        return f"Query({self.text!r})"


class Row(Protocol):
    """A result row; both sqlite3.Row and asyncpg.Record index by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


type Params = Mapping[str, object]


class SqlConnection(Protocol):
    """One transaction's connection, with the dialect's value conversions.

    A failed write is undone alone (statement atomicity on SQLite, a savepoint on PostgreSQL,
    where an error would otherwise abort the whole transaction); `executemany` is all or
    nothing. Driver errors come out as core errors: a unique violation is Conflict, a foreign-key
    violation NotFound, a row-level-security violation Forbidden, a missing table
    ConfigurationError, anything about reaching the database ExternalServiceError.
    """

    @property
    def dialect(self) -> SqlDialect:
        """Which database this is."""
        ...

    async def fetch(self, query: Query, params: Params | None = None) -> list[Row]:
        """All rows of a query."""
        ...

    async def fetchrow(self, query: Query, params: Params | None = None) -> Row | None:
        """The first row, or None."""
        ...

    async def execute(self, query: Query, params: Params | None = None) -> None:
        """Run a statement."""
        ...

    async def executemany(self, query: Query, rows: Sequence[Params]) -> None:
        """Run a statement once per parameter set (in the current transaction)."""
        ...

    def time(self, value: Any) -> datetime:
        """A stored time as an aware UTC datetime."""
        ...

    def day(self, value: Any) -> date:
        """A stored date."""
        ...

    def flag(self, value: Any) -> bool:
        """A stored boolean."""
        ...


# Types every driver takes as they are; checked first because bulk inserts convert millions
# of values and almost all of them are of these types.
PASS_THROUGH: frozenset[type] = frozenset({str, int, float, bytes, type(None)})


def plain(value: object) -> object:
    """Enums as their values; everything else unchanged."""
    if type(value) in PASS_THROUGH:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    return value


class Scope:
    """Whom a unit of work acts for: one user, or the named system scope."""

    __slots__ = ("reason", "user_id")

    def __init__(self, *, user_id: str | None, reason: str | None = None) -> None:
        if (user_id is None) == (reason is None):
            raise ValueError("a scope is either one user or the system with a reason")
        self.user_id = user_id
        self.reason = reason

    @classmethod
    def user(cls, user_id: str) -> Scope:
        """The scope acting for `user_id`."""
        if not user_id:
            raise Forbidden("a unit of work needs an acting user")
        return cls(user_id=user_id)

    @classmethod
    def system(cls, reason: str) -> Scope:
        """The system scope for the operation named by `reason`."""
        if not reason.strip():
            raise Forbidden("the system scope needs a reason")
        return cls(user_id=None, reason=reason.strip())

    @property
    def is_system(self) -> bool:
        """True for the system scope."""
        return self.user_id is None

    def check(self, user_id: str | None) -> None:
        """Raise Forbidden unless this scope may act for `user_id` (None: no user)."""
        if self.user_id is None:
            return
        if user_id != self.user_id:
            raise Forbidden(
                "this unit of work acts for another user",
                scope_user_id=self.user_id,
                requested_user_id=user_id,
            )

    def require_system(self, what: str) -> None:
        """Raise Forbidden unless this is the system scope."""
        if self.user_id is not None:
            raise Forbidden(f"{what} needs the system scope")

    @property
    def setting(self) -> str:
        """The value of PostgreSQL's `app.scope` setting for this scope."""
        return f"system:{self.reason}" if self.reason is not None else "user"
