"""Identifiers generated in Python: UUIDv7 text (RFC 9562 §5.7).

Lives outside the layers because it reads the clock and the random source, which the pure core
must not; services and adapters both import it. UUIDv7 ids sort by creation time, so indexes on
them stay append-mostly and the text form orders the same way as the bytes.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from training_analyzer.core.errors import InvalidInput

_lock = threading.Lock()
_last_ms = 0
_last_seq = 0

# RFC 9562 §6.2 method 1: a 12-bit counter in rand_a keeps ids made within one millisecond
# monotonic in this process; its start is random so ids stay hard to guess.
_SEQ_BITS = 12
_SEQ_MAX = (1 << _SEQ_BITS) - 1


def new_id() -> str:
    """Return a new UUIDv7 as lowercase hyphenated text (time-ordered, 74 random/counter bits)."""
    global _last_ms, _last_seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _last_seq = int.from_bytes(os.urandom(2), "big") & (_SEQ_MAX >> 1)
        else:
            # Same millisecond, or the clock stepped back: keep the previous timestamp and count
            # up; when the counter runs out, borrow the next millisecond.
            _last_seq += 1
            if _last_seq > _SEQ_MAX:
                _last_ms += 1
                _last_seq = 0
        ms, seq = _last_ms, _last_seq
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= seq << 64  # rand_a: counter
    value |= 0b10 << 62  # variant
    value |= rand_b
    return str(uuid.UUID(int=value))


def id_timestamp_ms(value: str) -> int:
    """Return the Unix millisecond timestamp embedded in a UUIDv7 `value`."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidInput("value", f"not a UUID: {value!r}") from None
    if parsed.version != 7:
        raise InvalidInput("value", f"not a UUIDv7: {value!r}")
    return parsed.int >> 80
