"""A fast, specialised FIT decoder written from the FIT protocol specification.

Garmin's FIT protocol (FIT SDK, "FIT Protocol" document, rev. 2.x): a file is a 12- or 14-byte
header (size, protocol version, profile version, data size, ".FIT", optional header CRC), then
records, then a CRC-16 of everything before it. A record starts with a one-byte header: a
*definition message* (bit 6) tells the layout of a local message type (0-15): architecture
(endianness), global message number, and per field its number, size and base type, then
optionally developer fields (bit 5), whose sizes we add and skip. A *data message* (bit 6
clear) carries the values in that layout. A *compressed timestamp header* (bit 7) carries a
local type 0-3 and a 5-bit time offset added to the last full timestamp. Each base type has an
"invalid" value meaning "no data", which we turn into None. Several FIT files may be chained
back to back in one file.

Speed comes from decoding only what is used: each definition is compiled once (and cached by
its bytes) into a `struct.Struct` that unpacks the fields we read and pads over the rest, so
a record costs one `unpack_from` and a few appends; scale and offset are applied per column
afterwards. Equality with Garmin's official decoder (garmin-fit-sdk) on every fixture file is
proved by tests/unit/files/test_fit_differential.py.

What we read (FIT profile message and field numbers):
  file_id (0): type, manufacturer, product, serial_number, time_created, product_name
  sport (12): sport, sub_sport, name
  session (18), lap (19): start/end, elapsed/timer time, distance, HR, power, speed, cadence,
    ascent, calories, sport, sub_sport (sessions also first_lap_index, num_laps)
  record (20): timestamp, position, distance, speed/enhanced_speed, altitude/enhanced_altitude,
    heart_rate, cadence (+ fractional_cadence), power
  device_info (23): device_index, manufacturer, serial_number, product, product_name
  activity (34): timestamp, local_timestamp (-> the UTC offset), num_sessions

Chained files: every part must have a valid header and CRC. A part that is damaged (bad
header, CRC mismatch, truncated) refuses the whole file, even when an earlier part is intact:
a file whose tail is garbage is not trusted for its head either, and nothing half-read is
stored. Parts that are not activities (e.g. settings) are skipped with a warning when another
part is an activity.
"""

from __future__ import annotations

import bisect
import math
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

import msgspec

from training_analyzer.adapters.files.sports import (
    fit_sport_name,
    fit_sub_sport_name,
    sport_from_fit,
)
from training_analyzer.adapters.files.summary import (
    assemble_streams,
    haversine_total_m,
    max_or_none,
    mean_or_none,
    offset_from_local_s,
)
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.parsed import ParsedActivity, ParsedFile, ParsedLap

# FIT "date_time": seconds since 1989-12-31T00:00:00Z (FIT Protocol, "Timestamps").
FIT_EPOCH_UNIX: Final = 631065600
# Values below 0x10000000 are seconds since device power-on, not a clock time (same source).
_MIN_ABSOLUTE_TS: Final = 0x10000000
_FIRST_CLOCK_TIME: Final = FIT_EPOCH_UNIX + _MIN_ABSOLUTE_TS  # 1998-07-03T21:24:16Z

_FILE_TYPE_ACTIVITY: Final = 4
# FIT profile type "file": what a non-activity file is, in words a user understands.
_FILE_TYPE_WORDS: Final[dict[int, str]] = {
    1: "a device description file",
    2: "a device settings file",
    3: "a sport settings file",
    5: "a workout file (a planned workout, not a recording)",
    6: "a course file (a route, not a recording)",
    7: "a schedules file",
    9: "a weight scale file",
    10: "a totals file",
    11: "a goals file",
    14: "a blood pressure file",
    15: "a monitoring (daily activity tracking) file",
    20: "an activity summary file",
    28: "a daily monitoring file",
    32: "a monitoring (daily activity tracking) file",
    34: "a segment file",
    35: "a segment list file",
}

# FIT profile "manufacturer", the common ones, for a readable device name.
_MANUFACTURERS: Final[dict[int, str]] = {
    1: "Garmin",
    15: "Dynastream",
    23: "Suunto",
    32: "Wahoo",
    40: "Concept2",
    69: "Stages",
    71: "TomTom",
    89: "Tacx",
    95: "Stryd",
    123: "Polar",
    255: "Development",
    260: "Zwift",
    263: "Favero",
    265: "Strava",
    267: "Bryton",
    281: "TrainerRoad",
    289: "Hammerhead",
    294: "COROS",
}

# FIT profile "garmin_product", a few common devices (checked against the SDK's profile by
# tests/unit/files/test_fit.py).
_GARMIN_PRODUCTS: Final[dict[int, str]] = {
    1169: "Edge 800",
    1325: "Edge 200",
    1561: "Edge 510",
    1567: "Edge 810",
    1836: "Edge 1000",
    2050: "fenix 3",
    2530: "Edge 820",
    2697: "fenix 5",
    2713: "Edge 1030",
    3110: "fenix 5 Plus",
    3113: "Forerunner 945",
    3121: "Edge 530",
    3122: "Edge 830",
    3290: "fenix 6",
    3570: "Edge 1030 Plus",
    3589: "Forerunner 745",
    3843: "Edge 1040",
    4024: "Forerunner 955",
    4062: "Edge 840",
    4440: "Edge 1050",
}

# --- base types (FIT Protocol, "Base Types"): number -> (struct code, size, invalid) -----------
# The invalid value of float types is all bits set, which unpacks as NaN (checked with v != v).
_NAN: Final = float("nan")
_BASE_TYPES: Final[dict[int, tuple[str, int, Any]]] = {
    0x00: ("B", 1, 0xFF),  # enum
    0x01: ("b", 1, 0x7F),  # sint8
    0x02: ("B", 1, 0xFF),  # uint8
    0x03: ("h", 2, 0x7FFF),  # sint16
    0x04: ("H", 2, 0xFFFF),  # uint16
    0x05: ("i", 4, 0x7FFFFFFF),  # sint32
    0x06: ("I", 4, 0xFFFFFFFF),  # uint32
    0x07: ("s", 1, None),  # string (NUL-terminated UTF-8)
    0x08: ("f", 4, _NAN),  # float32
    0x09: ("d", 8, _NAN),  # float64
    0x0A: ("B", 1, 0x00),  # uint8z
    0x0B: ("H", 2, 0x0000),  # uint16z
    0x0C: ("I", 4, 0x00000000),  # uint32z
    0x0D: ("B", 1, 0xFF),  # byte
    0x0E: ("q", 8, 0x7FFFFFFFFFFFFFFF),  # sint64
    0x0F: ("Q", 8, 0xFFFFFFFFFFFFFFFF),  # uint64
    0x10: ("Q", 8, 0),  # uint64z
}
_BASE_TYPE_MASK: Final = 0x1F
_STRING: Final = 0x07

# --- what we read: global message -> {field number: (name, scale, offset)} ----------------
# Values are raw / scale - offset (FIT Protocol, "Scale/Offset"); numbers from the FIT SDK
# profile (Profile.xlsx, Messages sheet).
_TS: Final = 253
_FILE_ID, _SPORT, _SESSION, _LAP, _RECORD, _DEVICE_INFO, _ACTIVITY = 0, 12, 18, 19, 20, 23, 34

_Field = tuple[str, float, float]
_MESSAGE_FIELDS: Final[dict[int, dict[int, _Field]]] = {
    _FILE_ID: {
        0: ("type", 1, 0),
        1: ("manufacturer", 1, 0),
        2: ("product", 1, 0),
        3: ("serial_number", 1, 0),
        4: ("time_created", 1, 0),
        8: ("product_name", 1, 0),
    },
    _SPORT: {0: ("sport", 1, 0), 1: ("sub_sport", 1, 0), 3: ("name", 1, 0)},
    _SESSION: {
        _TS: ("timestamp", 1, 0),
        2: ("start_time", 1, 0),
        5: ("sport", 1, 0),
        6: ("sub_sport", 1, 0),
        7: ("total_elapsed_time", 1000, 0),
        8: ("total_timer_time", 1000, 0),
        9: ("total_distance", 100, 0),
        11: ("total_calories", 1, 0),
        14: ("avg_speed", 1000, 0),
        15: ("max_speed", 1000, 0),
        16: ("avg_heart_rate", 1, 0),
        17: ("max_heart_rate", 1, 0),
        18: ("avg_cadence", 1, 0),
        20: ("avg_power", 1, 0),
        21: ("max_power", 1, 0),
        22: ("total_ascent", 1, 0),
        25: ("first_lap_index", 1, 0),
        26: ("num_laps", 1, 0),
        110: ("sport_profile_name", 1, 0),
        124: ("enhanced_avg_speed", 1000, 0),
        125: ("enhanced_max_speed", 1000, 0),
    },
    _LAP: {
        _TS: ("timestamp", 1, 0),
        2: ("start_time", 1, 0),
        7: ("total_elapsed_time", 1000, 0),
        8: ("total_timer_time", 1000, 0),
        9: ("total_distance", 100, 0),
        11: ("total_calories", 1, 0),
        13: ("avg_speed", 1000, 0),
        14: ("max_speed", 1000, 0),
        15: ("avg_heart_rate", 1, 0),
        16: ("max_heart_rate", 1, 0),
        17: ("avg_cadence", 1, 0),
        19: ("avg_power", 1, 0),
        20: ("max_power", 1, 0),
        21: ("total_ascent", 1, 0),
        25: ("sport", 1, 0),
        39: ("sub_sport", 1, 0),
        110: ("enhanced_avg_speed", 1000, 0),
        111: ("enhanced_max_speed", 1000, 0),
    },
    _RECORD: {
        _TS: ("timestamp", 1, 0),
        0: ("position_lat", 1, 0),
        1: ("position_long", 1, 0),
        2: ("altitude", 5, 500),
        3: ("heart_rate", 1, 0),
        4: ("cadence", 1, 0),
        5: ("distance", 100, 0),
        6: ("speed", 1000, 0),
        7: ("power", 1, 0),
        53: ("fractional_cadence", 128, 0),
        73: ("enhanced_speed", 1000, 0),
        78: ("enhanced_altitude", 5, 500),
    },
    _DEVICE_INFO: {
        _TS: ("timestamp", 1, 0),
        0: ("device_index", 1, 0),
        2: ("manufacturer", 1, 0),
        3: ("serial_number", 1, 0),
        4: ("product", 1, 0),
        27: ("product_name", 1, 0),
    },
    _ACTIVITY: {
        _TS: ("timestamp", 1, 0),
        0: ("total_timer_time", 1000, 0),
        1: ("num_sessions", 1, 0),
        5: ("local_timestamp", 1, 0),
    },
}
_STRING_FIELDS: Final = frozenset({"product_name", "name", "sport_profile_name"})
_TIMESTAMP_ONLY: Final[dict[int, _Field]] = {_TS: ("timestamp", 1, 0)}

# Kinds of definitions, deciding what the decode loop does with a data message.
_SKIP, _TS_ONLY, _RECORD_KIND, _KEEP = 0, 1, 2, 3

# Semicircles to degrees: 2^31 semicircles = 180 degrees (FIT profile, position_lat units).
_DEG_PER_SEMICIRCLE: Final = 180.0 / 2**31


def _refuse(message: str) -> InvalidInput:
    return InvalidInput("file", message)


# --- CRC-16 (FIT Protocol, "CRC"): CRC-16/ARC, reflected polynomial 0xA001, initial value 0 --
def _crc8_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC8: Final = _crc8_table()


@cache
def _crc16_table() -> list[int]:
    # Two bytes per step: for a reflected 16-bit CRC, feeding the little-endian word w gives
    # crc' = T16[crc ^ w], so a 65,536-entry table halves the Python-level loop.
    t8 = _CRC8
    return [(t8[x & 0xFF] >> 8) ^ t8[((x >> 8) ^ t8[x & 0xFF]) & 0xFF] for x in range(65536)]


def fit_crc16(data: bytes | memoryview, start: int = 0, end: int | None = None) -> int:
    """The FIT CRC-16 of `data[start:end]`."""
    stop = len(data) if end is None else end
    crc = 0
    if stop - start >= 64:
        words = array("H")
        words.frombytes(data[start : stop - ((stop - start) & 1)])
        if sys.byteorder == "big":
            words.byteswap()
        t16 = _crc16_table()
        for w in words:
            crc = t16[crc ^ w]
        if (stop - start) & 1:
            crc = (crc >> 8) ^ _CRC8[(crc ^ data[stop - 1]) & 0xFF]
        return crc
    t8 = _CRC8
    for i in range(start, stop):
        crc = (crc >> 8) ^ t8[(crc ^ data[i]) & 0xFF]
    return crc


# --- definitions ----------------------------------------------------------------------------
class _Layout:
    """A compiled definition: what to unpack, where each field we use lands in the tuple."""

    __slots__ = ("fields", "global_num", "kind", "size", "ts_index", "ts_invalid", "unpack")

    def __init__(
        self,
        *,
        global_num: int,
        kind: int,
        size: int,
        unpack: Callable[[bytes, int], tuple[Any, ...]] | None,
        fields: dict[str, tuple[int, Any, bool, float, float]],
        ts_index: int,
        ts_invalid: Any,
    ) -> None:
        self.global_num = global_num
        self.kind = kind
        self.size = size
        self.unpack = unpack
        # name -> (tuple index, invalid value, is_string, scale, offset)
        self.fields = fields
        self.ts_index = ts_index
        self.ts_invalid = ts_invalid


def _compile(definition: bytes, has_dev: bool) -> _Layout:
    """Compile a definition message body (after its header byte) into a `_Layout`."""
    big = definition[1] != 0  # architecture: 0 little-endian, anything else big (as the SDK)
    global_num = int.from_bytes(definition[2:4], "big" if big else "little")
    count = definition[4]
    wanted = _MESSAGE_FIELDS.get(global_num, _TIMESTAMP_ONLY)
    parts: list[str] = []
    pad = 0
    size = 0
    index = 0
    fields: dict[str, tuple[int, Any, bool, float, float]] = {}
    for i in range(count):
        num, fsize, raw_base = definition[5 + 3 * i : 8 + 3 * i]
        base = _BASE_TYPES.get(raw_base & _BASE_TYPE_MASK)
        size += fsize
        spec = wanted.get(num)
        if spec is None or base is None or fsize == 0 or spec[0] in fields:
            pad += fsize
            continue
        code, bsize, invalid = base
        is_string = (raw_base & _BASE_TYPE_MASK) == _STRING
        if fsize % bsize or is_string != (spec[0] in _STRING_FIELDS) or code in "fd":
            # The SDK reads a size that is no multiple of the type as bytes; a string where we
            # expect a number (or the reverse), or a float where the profile has an integer
            # type (every field we read is an integer or a string), is no value we can use.
            pad += fsize
            continue
        if pad:
            parts.append(f"{pad}x")
            pad = 0
        if is_string:
            parts.append(f"{fsize}s")
        else:
            # An array where we expect one value: read the first element, skip the rest.
            parts.append(code)
            pad = fsize - bsize
        fields[spec[0]] = (index, invalid, is_string, spec[1], spec[2])
        index += 1
    if has_dev:
        dev_start = 5 + 3 * count
        for j in range(definition[dev_start]):
            size_at = dev_start + 1 + 3 * j + 1
            size += definition[size_at]
            pad += definition[size_at]
    ts = fields.get("timestamp")
    if global_num == _RECORD:
        kind = _RECORD_KIND
    elif global_num in _MESSAGE_FIELDS and fields:
        kind = _KEEP
    else:
        # Messages we do not read still carry the timestamp that compressed headers count from.
        kind = _TS_ONLY if ts is not None else _SKIP
    unpack = struct.Struct((">" if big else "<") + "".join(parts)).unpack_from if parts else None
    return _Layout(
        global_num=global_num,
        kind=kind,
        size=size,
        unpack=unpack,
        fields=fields,
        ts_index=ts[0] if ts is not None else -1,
        ts_invalid=ts[1] if ts is not None else None,
    )


# --- the decoded content ----------------------------------------------------------------------
class FitRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Record (message 20) fields as columns, in file order, scaled to SI units.

    `timestamp` is Unix seconds (None when the record has none). Speed and altitude take the
    enhanced field when the record has it, else the 16-bit one (the SDK expands the latter
    into the former, with the same value). Cadence includes fractional_cadence.
    """

    timestamp: list[int | None]
    lat_deg: list[float | None]
    lon_deg: list[float | None]
    distance_m: list[float | None]
    speed_m_s: list[float | None]
    altitude_m: list[float | None]
    hr_bpm: list[int | None]
    cadence_rpm: list[float | None]
    power_w: list[int | None]


class FitContent(msgspec.Struct, frozen=True, kw_only=True):
    """The messages of one FIT file part that the import uses, decoded and scaled.

    Each non-record message is a dict of field name -> value (None when invalid), with scale
    and offset applied and date_time fields as Unix seconds.
    """

    file_id: dict[str, Any] | None
    records: FitRecords
    sessions: list[dict[str, Any]]
    laps: list[dict[str, Any]]
    sports: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    activities: list[dict[str, Any]]


_DATE_FIELDS: Final = frozenset({"timestamp", "start_time", "time_created"})


def _message_dict(layout: _Layout, row: tuple[Any, ...], ts: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (i, invalid, is_string, scale, offset) in layout.fields.items():
        v = row[i]
        if is_string:
            text = v.split(b"\0", 1)[0].decode("utf-8", "replace")
            out[name] = text or None
        elif v == invalid or v != v:
            out[name] = None
        elif name in _DATE_FIELDS:
            out[name] = v + FIT_EPOCH_UNIX if v >= _MIN_ABSOLUTE_TS else None
        elif name == "local_timestamp":
            out[name] = v + FIT_EPOCH_UNIX
        elif scale != 1 or offset:
            out[name] = v / scale - offset
        else:
            out[name] = v
    if "timestamp" not in out or out["timestamp"] is None:
        out["timestamp"] = (
            ts + FIT_EPOCH_UNIX if ts is not None and ts >= _MIN_ABSOLUTE_TS else None
        )
    return out


def _column(
    rows: Sequence[tuple[Any, ...]], layout: _Layout, name: str, *, factor: float = 1.0
) -> list[Any] | None:
    spec = layout.fields.get(name)
    if spec is None:
        return None
    i, invalid, _is_string, scale, offset = spec
    k = factor / scale
    if k == 1 and not offset:
        return [None if (v := r[i]) == invalid or v != v else v for r in rows]
    return [None if (v := r[i]) == invalid or v != v else v * k - offset * factor for r in rows]


def _prefer(first: list[Any] | None, second: list[Any] | None) -> list[Any] | None:
    if first is None:
        return second
    if second is None:
        return first
    return [a if a is not None else b for a, b in zip(first, second, strict=True)]


def _record_columns(rows: Sequence[tuple[Any, ...]], layout: _Layout) -> dict[str, list[Any]]:
    n = len(rows)
    none: list[Any] = [None] * n
    cols: dict[str, list[Any] | None] = {
        "lat_deg": _column(rows, layout, "position_lat", factor=_DEG_PER_SEMICIRCLE),
        "lon_deg": _column(rows, layout, "position_long", factor=_DEG_PER_SEMICIRCLE),
        "distance_m": _column(rows, layout, "distance"),
        "speed_m_s": _prefer(
            _column(rows, layout, "enhanced_speed"), _column(rows, layout, "speed")
        ),
        "altitude_m": _prefer(
            _column(rows, layout, "enhanced_altitude"), _column(rows, layout, "altitude")
        ),
        "hr_bpm": _column(rows, layout, "heart_rate"),
        "power_w": _column(rows, layout, "power"),
    }
    cadence = _column(rows, layout, "cadence")
    fraction = _column(rows, layout, "fractional_cadence")
    if cadence is not None and fraction is not None:
        cadence = [
            c + f if c is not None and f is not None else c
            for c, f in zip(cadence, fraction, strict=True)
        ]
    cols["cadence_rpm"] = cadence
    return {name: col if col is not None else none for name, col in cols.items()}


_EMPTY: Final = _Layout(
    global_num=_RECORD,
    kind=_RECORD_KIND,
    size=0,
    unpack=None,
    fields={},
    ts_index=-1,
    ts_invalid=None,
)

_RECORD_CHANNELS: Final = (
    "lat_deg",
    "lon_deg",
    "distance_m",
    "speed_m_s",
    "altitude_m",
    "hr_bpm",
    "cadence_rpm",
    "power_w",
)


def _build_records(
    rows: list[tuple[Any, ...]], layouts: list[_Layout], stamps: list[int | None]
) -> FitRecords:
    n = len(rows)
    timestamps = [t + FIT_EPOCH_UNIX if t is not None else None for t in stamps]
    # Records may be written under several definitions (a device redefines its local types,
    # a sensor joins mid-ride). Definitions that place our fields alike convert together.
    groups: dict[tuple[Any, ...], list[_Layout]] = {}
    for layout in set(layouts):
        groups.setdefault(tuple(layout.fields.items()), []).append(layout)
    if len(groups) <= 1:
        cols = _record_columns(rows, layouts[0]) if layouts else _record_columns([], _EMPTY)
    else:
        cols = {name: [None] * n for name in _RECORD_CHANNELS}
        for members in groups.values():
            chosen = set(members)
            positions = [i for i, layout in enumerate(layouts) if layout in chosen]
            part = _record_columns([rows[i] for i in positions], members[0])
            for name, values in part.items():
                target = cols[name]
                for i, v in zip(positions, values, strict=True):
                    target[i] = v
    return FitRecords(timestamp=timestamps, **cols)


def _read_header(data: bytes, start: int) -> tuple[int, int]:
    """Check one FIT file header at `start`; return (header size, data size)."""
    part = "" if start == 0 else f" (the part starting at byte {start} of a chained file)"
    if len(data) - start < 12:
        raise _refuse(f"the file ends early: it is truncated{part}")
    header_size = data[start]
    if data[start + 8 : start + 12] != b".FIT" or header_size < 12:
        if start == 0:
            raise _refuse("this is not a FIT file (no FIT header)")
        raise _refuse(
            f"the file is damaged: a second FIT part starts at byte {start} with a corrupt "
            "header; the file is refused whole"
        )
    if data[start + 1] >> 4 > 2:
        raise _refuse(f"this FIT file uses protocol version {data[start + 1] >> 4}, newer than 2")
    if len(data) - start < header_size:
        raise _refuse(f"the file ends early: it is truncated{part}")
    if header_size >= 14:
        stored = int.from_bytes(data[start + 12 : start + 14], "little")
        # A header CRC of 0 means "not computed" (FIT Protocol, "File Header").
        if stored and stored != fit_crc16(data, start, start + 12):
            raise _refuse(f"the file is damaged: its header checksum does not match{part}")
    data_size = int.from_bytes(data[start + 4 : start + 8], "little")
    if start + header_size + data_size + 2 > len(data):
        raise _refuse(f"the file ends early: it is truncated{part}")
    return header_size, data_size


def _decode_part(data: bytes, start: int, header_size: int, data_size: int) -> FitContent:
    end = start + header_size + data_size
    stored_crc = int.from_bytes(data[end : end + 2], "little")
    if stored_crc != fit_crc16(data, start, end):
        raise _refuse("the file is damaged: its checksum does not match (corrupt or edited)")
    try:
        return _decode_messages(data, start + header_size, end)
    except (struct.error, IndexError):
        raise _refuse("the file is damaged: a message runs past the end of the data") from None


_layout_cache: dict[bytes, _Layout] = {}


def _decode_messages(data: bytes, pos: int, end: int) -> FitContent:
    layouts: list[_Layout | None] = [None] * 16
    cache = _layout_cache
    rec_rows: list[tuple[Any, ...]] = []
    rec_layouts: list[_Layout] = []
    rec_ts: list[int | None] = []
    kept: list[tuple[_Layout, tuple[Any, ...], int | None]] = []
    last_ts: int | None = None
    while pos < end:
        header = data[pos]
        if header & 0x40 and not header & 0x80:
            # Definition message: 5 fixed bytes, 3 per field, then developer fields.
            has_dev = bool(header & 0x20)
            body_end = pos + 6 + 3 * data[pos + 5]
            if has_dev:
                body_end += 1 + 3 * data[body_end]
            if body_end > end:
                raise _refuse("the file is damaged: a definition runs past the end of the data")
            key = data[pos + 1 : body_end]
            layout = cache.get(key)
            if layout is None:
                layout = _compile(key, has_dev)
                if len(cache) < 1024:
                    cache[key] = layout
            layouts[header & 0x0F] = layout
            pos = body_end
            continue
        compressed = header & 0x80
        layout = layouts[(header >> 5) & 0x03 if compressed else header & 0x0F]
        if layout is None:
            raise _refuse("the file is damaged: a message comes before its definition")
        start = pos + 1
        pos = start + layout.size
        if pos > end:
            raise _refuse("the file is damaged: a message runs past the end of the data")
        kind = layout.kind
        if kind == _SKIP and not compressed:
            continue
        row = layout.unpack(data, start) if layout.unpack is not None else ()
        ts: int | None
        if layout.ts_index >= 0 and (t := row[layout.ts_index]) != layout.ts_invalid:
            ts = last_ts = t
        elif compressed:
            # Compressed timestamp header (FIT Protocol, "Compressed Timestamp Header"): a
            # 5-bit offset that rolls over relative to the last full timestamp.
            if last_ts is None:
                ts = None
            else:
                offset = header & 0x1F
                ts = (last_ts & ~0x1F) + offset
                if offset < (last_ts & 0x1F):
                    ts += 0x20
                last_ts = ts
        else:
            ts = None
        if kind == _RECORD_KIND:
            rec_rows.append(row)
            rec_layouts.append(layout)
            rec_ts.append(ts)
        elif kind == _KEEP:
            kept.append((layout, row, ts))
    by_kind: dict[int, list[dict[str, Any]]] = {}
    for layout, row, ts in kept:
        by_kind.setdefault(layout.global_num, []).append(_message_dict(layout, row, ts))
    file_ids = by_kind.get(_FILE_ID, [])
    return FitContent(
        file_id=file_ids[0] if file_ids else None,
        records=_build_records(rec_rows, rec_layouts, rec_ts),
        sessions=by_kind.get(_SESSION, []),
        laps=by_kind.get(_LAP, []),
        sports=by_kind.get(_SPORT, []),
        devices=by_kind.get(_DEVICE_INFO, []),
        activities=by_kind.get(_ACTIVITY, []),
    )


def read_fit(data: bytes) -> list[FitContent]:
    """Decode every part of a (possibly chained) FIT file; raise InvalidInput if any is bad."""
    if not data:
        raise _refuse("the file is empty")
    parts: list[FitContent] = []
    start = 0
    while start < len(data):
        header_size, data_size = _read_header(data, start)
        parts.append(_decode_part(data, start, header_size, data_size))
        start += header_size + data_size + 2
    return parts


# --- assembly: FIT content -> ParsedActivity -------------------------------------------------
def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _device(content: FitContent) -> tuple[str | None, str | None]:
    fid = content.file_id or {}
    creator = next((d for d in content.devices if d.get("device_index") == 0), {})
    name = fid.get("product_name") or creator.get("product_name")
    manufacturer = fid.get("manufacturer") or creator.get("manufacturer")
    product = fid.get("product") or creator.get("product")
    if name is None and manufacturer is not None:
        maker = _MANUFACTURERS.get(manufacturer, f"manufacturer {manufacturer}")
        if manufacturer == 1 and product in _GARMIN_PRODUCTS:
            name = f"Garmin {_GARMIN_PRODUCTS[product]}"
        else:
            name = maker if product is None else f"{maker} (product {product})"
    serial = fid.get("serial_number") or creator.get("serial_number")
    return name, (str(serial) if serial is not None else None)


def _lap_from(msg: dict[str, Any]) -> ParsedLap | None:
    start = msg.get("start_time")
    elapsed = msg.get("total_elapsed_time")
    if start is None and msg.get("timestamp") is not None and elapsed is not None:
        start = msg["timestamp"] - elapsed
    if start is None:
        return None
    if elapsed is None:
        elapsed = max(0.0, msg["timestamp"] - start) if msg.get("timestamp") else 0.0
    return ParsedLap(
        start_time=_utc(start),
        elapsed_s=elapsed,
        timer_s=msg.get("total_timer_time"),
        distance_m=msg.get("total_distance"),
        avg_hr_bpm=_positive(msg.get("avg_heart_rate")),
        max_hr_bpm=_positive(msg.get("max_heart_rate")),
        avg_power_w=msg.get("avg_power"),
        max_power_w=msg.get("max_power"),
        avg_speed_m_s=_first(msg, "enhanced_avg_speed", "avg_speed"),
        max_speed_m_s=_first(msg, "enhanced_max_speed", "max_speed"),
        avg_cadence_rpm=msg.get("avg_cadence"),
        elevation_gain_m=msg.get("total_ascent"),
        energy_kcal=msg.get("total_calories"),
    )


def _or(value: float | None, fallback: float | None) -> float | None:
    return value if value is not None else fallback


def _first(msg: dict[str, Any], *names: str) -> Any:
    for name in names:
        if msg.get(name) is not None:
            return msg[name]
    return None


class _Span(msgspec.Struct, frozen=True, kw_only=True):
    start: float
    end: float | None
    msg: dict[str, Any]


def _spans(content: FitContent, warnings: list[str]) -> list[_Span]:
    """One span per session (sorted by start); a file without sessions gets one from records."""
    spans: list[_Span] = []
    for msg in content.sessions:
        start = msg.get("start_time")
        elapsed = msg.get("total_elapsed_time")
        stamp = msg.get("timestamp")
        if start is None and stamp is not None and elapsed is not None:
            start = stamp - elapsed
        if start is None:
            warnings.append("a session without a start time was left out")
            continue
        end = start + elapsed if elapsed is not None else stamp
        spans.append(_Span(start=start, end=end, msg=msg))
    if not spans:
        stamps = [t for t in content.records.timestamp if t is not None and t >= _FIRST_CLOCK_TIME]
        if not stamps:
            if any(t is not None for t in content.records.timestamp):
                raise _refuse(
                    "the recording has no clock times (the device's clock was not set): "
                    "its start cannot be placed"
                )
            return []
        sport_msg = content.sports[0] if content.sports else {}
        lap_msg = content.laps[0] if content.laps else {}
        msg = {
            "sport": sport_msg.get("sport", lap_msg.get("sport")),
            "sub_sport": sport_msg.get("sub_sport", lap_msg.get("sub_sport")),
        }
        warnings.append("the file has no session summary: figures are computed from records")
        spans.append(_Span(start=min(stamps), end=max(stamps), msg=msg))
    spans.sort(key=lambda s: s.start)
    return spans


def _utc_offset(content: FitContent, warnings: list[str]) -> int | None:
    for msg in content.activities:
        local, stamp = msg.get("local_timestamp"), msg.get("timestamp")
        if local is not None and stamp is not None:
            offset = offset_from_local_s(local - stamp)
            if offset is None:
                warnings.append("the device's local time is implausible; UTC offset unknown")
            return offset
    return None


def _activities(content: FitContent, warnings: list[str]) -> list[ParsedActivity]:
    spans = _spans(content, warnings)
    if not spans:
        return []
    rec = content.records
    starts = [s.start for s in spans]
    members: list[list[int]] = [[] for _ in spans]
    early = 0
    if len(spans) == 1:
        first = starts[0]
        members[0] = [i for i, t in enumerate(rec.timestamp) if t is not None and t >= first]
        early = sum(1 for t in rec.timestamp if t is not None and t < first)
    else:
        for i, t in enumerate(rec.timestamp):
            if t is None:
                continue
            k = bisect.bisect_right(starts, t) - 1
            if k < 0:
                early += 1
            else:
                members[k].append(i)
    if early:
        warnings.append(f"{early} records before the first session's start were left out")
    device_name, device_serial = _device(content)
    offset = _utc_offset(content, warnings)
    multi = len(spans) > 1
    group: str | None = None
    if multi:
        fid = content.file_id or {}
        group = f"fit-{fid.get('serial_number') or 0}-{fid.get('time_created') or int(starts[0])}"
    laps_all = [(msg, _lap_from(msg)) for msg in content.laps]
    out: list[ParsedActivity] = []
    for k, span in enumerate(spans):
        out.append(
            _activity(
                span=span,
                rec=rec,
                indices=members[k],
                laps=_laps_for(span, laps_all, spans, k),
                device=(device_name, device_serial),
                utc_offset_s=offset,
                group=(group, k) if multi else None,
            )
        )
    return out


def _laps_for(
    span: _Span,
    laps_all: list[tuple[dict[str, Any], ParsedLap | None]],
    spans: list[_Span],
    k: int,
) -> list[ParsedLap]:
    first, count = span.msg.get("first_lap_index"), span.msg.get("num_laps")
    if first is not None and count is not None and first + count <= len(laps_all):
        chosen = laps_all[first : first + count]
    else:
        upper = spans[k + 1].start if k + 1 < len(spans) else math.inf
        chosen = [
            (m, lap)
            for m, lap in laps_all
            if lap is not None and span.start <= lap.start_time.timestamp() < upper
        ]
    return [lap for _, lap in chosen if lap is not None]


def _activity(
    *,
    span: _Span,
    rec: FitRecords,
    indices: list[int],
    laps: list[ParsedLap],
    device: tuple[str | None, str | None],
    utc_offset_s: int | None,
    group: tuple[str | None, int] | None,
) -> ParsedActivity:
    msg = span.msg
    n = len(rec.timestamp)
    whole = len(indices) == n

    def pick(column: list[Any]) -> list[Any]:
        return column if whole else [column[i] for i in indices]

    stamps = pick(rec.timestamp)
    times = [t - span.start for t in stamps]
    hr = [v if v else None for v in pick(rec.hr_bpm)]  # 0 bpm is a missing reading
    channels = {
        "hr_bpm": hr,
        "power_w": pick(rec.power_w),
        "speed_m_s": pick(rec.speed_m_s),
        "distance_m": pick(rec.distance_m),
        "altitude_m": pick(rec.altitude_m),
        "cadence_rpm": pick(rec.cadence_rpm),
        "lat_deg": pick(rec.lat_deg),
        "lon_deg": pick(rec.lon_deg),
    }
    streams = assemble_streams(time_s=times, channels=channels)
    elapsed = msg.get("total_elapsed_time")
    if elapsed is None:
        elapsed = (span.end - span.start) if span.end is not None else 0.0
        if streams.time_s:
            elapsed = max(elapsed, streams.time_s[-1])
    distance = msg.get("total_distance")
    if distance is None:
        dist = streams.distance_m
        distance = max((d for d in dist if d is not None), default=None) if dist else None
        if distance is None and streams.lat_deg is not None and streams.lon_deg is not None:
            distance = haversine_total_m(lat_deg=streams.lat_deg, lon_deg=streams.lon_deg)
    sport, sub_sport = msg.get("sport"), msg.get("sub_sport")
    return ParsedActivity(
        sport=sport_from_fit(sport=sport, sub_sport=sub_sport),
        sport_name=fit_sport_name(sport),
        sub_sport=fit_sub_sport_name(sub_sport),
        start_time=_utc(span.start),
        utc_offset_s=utc_offset_s,
        elapsed_s=elapsed,
        timer_s=msg.get("total_timer_time"),
        distance_m=distance,
        avg_hr_bpm=_positive(msg.get("avg_heart_rate")) or mean_or_none(streams.hr_bpm),
        max_hr_bpm=_positive(msg.get("max_heart_rate")) or max_or_none(streams.hr_bpm),
        avg_power_w=_or(msg.get("avg_power"), mean_or_none(streams.power_w)),
        max_power_w=_or(msg.get("max_power"), max_or_none(streams.power_w)),
        avg_speed_m_s=_first(msg, "enhanced_avg_speed", "avg_speed"),
        max_speed_m_s=_first(msg, "enhanced_max_speed", "max_speed"),
        avg_cadence_rpm=_or(msg.get("avg_cadence"), mean_or_none(streams.cadence_rpm)),
        elevation_gain_m=msg.get("total_ascent"),
        energy_kcal=msg.get("total_calories"),
        device_name=device[0],
        device_serial=device[1],
        laps=laps,
        streams=streams,
        multisport_group=group[0] if group else None,
        multisport_index=group[1] if group else None,
    )


def parse_fit(*, data: bytes) -> ParsedFile:
    """Decode a FIT activity file into activities (one per session); refuse anything else.

    Raises InvalidInput(argument="file") with a message a user understands when the file is
    empty, truncated, damaged, not FIT, or not an activity (settings, course, workout, ...).
    """
    parts = read_fit(data)
    warnings: list[str] = []
    activities: list[ParsedActivity] = []
    refused: list[str] = []
    for index, content in enumerate(parts):
        what = _what_is(content)
        if what is not None:
            refused.append(what)
            if len(parts) > 1:
                warnings.append(f"part {index + 1} of the chained file is {what}; skipped")
            continue
        found = _activities(content, warnings)
        if not found:
            warnings.append(f"part {index + 1} is an activity without any recorded data; skipped")
        activities.extend(found)
    if not activities:
        if refused:
            raise _refuse(f"this is {refused[0]}, not an activity")
        raise _refuse("the activity file holds no recorded data (no sessions, no records)")
    if len(parts) == 1:
        warnings = [w for w in warnings if not w.startswith("part 1 ")]
    return ParsedFile(activities=activities, format="fit", warnings=warnings)


def _what_is(content: FitContent) -> str | None:
    """None for an activity file; else words saying what the file is."""
    fid = content.file_id
    if fid is None:
        return "a FIT file without a file_id message (its kind cannot be told)"
    kind = fid.get("type")
    if kind == _FILE_TYPE_ACTIVITY:
        return None
    if kind is None:
        return "a FIT file of unknown kind"
    return _FILE_TYPE_WORDS.get(kind, f"a FIT file of type {kind}")
