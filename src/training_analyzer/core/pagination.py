"""Keyset pagination: a page of items and an opaque cursor over (time, id).

A cursor names the last item of the previous page; the next page holds the items strictly after
it in the listing's order. Unlike OFFSET, a page costs the same at any depth and rows inserted
meanwhile neither repeat nor skip items.

Token format: url-safe base64 (no padding) of JSON `[1, kind, microseconds, id]` followed by a
CRC-32 of that JSON. The cursor is opaque, not secret: the checksum catches truncated or edited
tokens, and a forged but well-formed one can only reposition a listing that is still filtered
by the acting user.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from datetime import UTC, datetime, timedelta

import msgspec

from training_analyzer.core.errors import InvalidInput

_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TOKEN_LENGTH = 512
_MAX_LIMIT = 200


class Page[T](msgspec.Struct, frozen=True, kw_only=True):
    """A page of a listing; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None


class Cursor(msgspec.Struct, frozen=True, kw_only=True):
    """A position in a listing ordered by (`at`, `id`): the last item already seen."""

    at: datetime
    id: str


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    if value.tzinfo is None:
        raise InvalidInput("value", "must be a timezone-aware datetime")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The aware UTC datetime `value` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=value)


def encode_cursor(cursor: Cursor, *, kind: str) -> str:
    """Encode `cursor` for a listing named `kind` as an opaque url-safe token."""
    payload = msgspec.json.encode([_VERSION, kind, to_micros(cursor.at), cursor.id])
    check = zlib.crc32(payload).to_bytes(4, "big")
    return base64.urlsafe_b64encode(payload + check).rstrip(b"=").decode("ascii")


def decode_cursor(token: str, *, kind: str) -> Cursor:
    """Decode a token made by `encode_cursor` for `kind`; raise InvalidInput if it is not one."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidInput("cursor", "malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput("cursor", "malformed cursor") from None
    payload, check = raw[:-4], raw[-4:]
    if len(raw) < 5 or zlib.crc32(payload).to_bytes(4, "big") != check:
        raise InvalidInput("cursor", "malformed cursor")
    try:
        version, cursor_kind, micros, item_id = msgspec.json.decode(
            payload, type=tuple[int, str, int, str]
        )
    except msgspec.DecodeError:
        raise InvalidInput("cursor", "malformed cursor") from None
    if version != _VERSION or cursor_kind != kind:
        raise InvalidInput("cursor", f"not a cursor of this listing ({kind})")
    try:
        at = from_micros(micros)
    except OverflowError:
        raise InvalidInput("cursor", "malformed cursor") from None
    return Cursor(at=at, id=item_id)


def page_limit(limit: int) -> int:
    """Validate a requested page size (1..200) and return it."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
        raise InvalidInput("limit", f"must be an integer between 1 and {_MAX_LIMIT}, got {limit!r}")
    return limit
