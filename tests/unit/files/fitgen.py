"""FIT files made at test time: with Garmin's official encoder (garmin-fit-sdk), or byte by byte.

The official `Encoder` writes what real devices write (definitions, data, header and CRC);
`RawFit` writes what the encoder cannot (compressed timestamp headers, big-endian definitions,
hand-broken files), with the CRC computed by the SDK's own `CrcCalculator`, so neither path
leans on the decoder under test.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from garmin_fit_sdk import CrcCalculator, Encoder, Profile

FIT_EPOCH_UNIX = 631065600  # 1989-12-31T00:00:00Z (FIT Protocol, "Timestamps")
MESG: dict[str, int] = Profile["mesg_num"]
START = datetime(2024, 5, 1, 6, 0, 0, tzinfo=UTC)


def fit_time(value: datetime) -> int:
    """A datetime as FIT seconds since the FIT epoch."""
    return int(value.timestamp()) - FIT_EPOCH_UNIX


def semicircles(degrees: float) -> int:
    """Degrees as FIT semicircles (2^31 semicircles = 180 degrees)."""
    return round(degrees / 180.0 * 2**31)


def encode(messages: Sequence[dict[str, Any]], *, field_descriptions: Any = None) -> bytes:
    """Encode messages (each with a 'mesg_num') into a FIT file with the official encoder."""
    encoder = Encoder(field_descriptions) if field_descriptions else Encoder()
    for message in messages:
        encoder.write_mesg(message)
    return bytes(encoder.close())


def file_id(
    *, kind: str = "activity", when: datetime = START, serial: int = 1234
) -> dict[str, Any]:
    """A file_id message from a Garmin Edge 810 (product 1567)."""
    return {
        "mesg_num": MESG["FILE_ID"],
        "type": kind,
        "manufacturer": "garmin",
        "product": 1567,
        "serial_number": serial,
        "time_created": when,
    }


def ride_hr(i: int) -> int:
    """Heart rate of the synthetic ride at second i: 140 +/- 15 bpm, slow wave."""
    return 140 + round(15 * math.sin(i / 300))


def ride_power(i: int) -> int:
    """Power of the synthetic ride at second i: 220 +/- 60 W, with 30 s surges."""
    return 220 + round(60 * math.sin(i / 45)) + (80 if i % 600 < 30 else 0)


def ride_records(
    *, start: datetime, seconds: int, speed_m_s: float = 8.5, first_distance_m: float = 0.0
) -> list[dict[str, Any]]:
    """1 Hz record messages of a steady ride with HR, power, cadence, speed, GPS, altitude."""
    records = []
    for i in range(seconds):
        records.append(
            {
                "mesg_num": MESG["RECORD"],
                "timestamp": start + timedelta(seconds=i),
                "position_lat": semicircles(45.0 + i * 1e-5),
                "position_long": semicircles(7.0 + i * 1e-5),
                "distance": first_distance_m + i * speed_m_s,
                "enhanced_speed": speed_m_s,
                "enhanced_altitude": 200.0 + 20 * math.sin(i / 600),
                "heart_rate": ride_hr(i),
                "cadence": 85 + i % 10,
                "power": ride_power(i),
            }
        )
    return records


def session(
    *,
    start: datetime,
    seconds: float,
    sport: str | int,
    sub_sport: str | int = "generic",
    distance_m: float | None = None,
    first_lap_index: int = 0,
    num_laps: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """A session message covering [start, start + seconds]."""
    message: dict[str, Any] = {
        "mesg_num": MESG["SESSION"],
        "timestamp": start + timedelta(seconds=seconds),
        "start_time": start,
        "total_elapsed_time": seconds,
        "total_timer_time": seconds,
        "sport": sport,
        "sub_sport": sub_sport,
        "first_lap_index": first_lap_index,
        "num_laps": num_laps,
        **extra,
    }
    if distance_m is not None:
        message["total_distance"] = distance_m
    return message


def lap(*, start: datetime, seconds: float, **extra: Any) -> dict[str, Any]:
    """A lap message covering [start, start + seconds]."""
    return {
        "mesg_num": MESG["LAP"],
        "timestamp": start + timedelta(seconds=seconds),
        "start_time": start,
        "total_elapsed_time": seconds,
        "total_timer_time": seconds,
        **extra,
    }


def activity(
    *, end: datetime, num_sessions: int = 1, utc_offset_s: int | None = 7200
) -> dict[str, Any]:
    """The closing activity message; local_timestamp = timestamp + utc_offset_s."""
    message: dict[str, Any] = {
        "mesg_num": MESG["ACTIVITY"],
        "timestamp": end,
        "num_sessions": num_sessions,
        "type": "auto_multi_sport" if num_sessions > 1 else "manual",
    }
    if utc_offset_s is not None:
        message["local_timestamp"] = fit_time(end) + utc_offset_s
    return message


def one_hour_ride(*, seconds: int = 3600, start: datetime = START) -> bytes:
    """A 1 Hz ride with HR and power, as an Edge would record it: 4 laps and one session."""
    records = ride_records(start=start, seconds=seconds)
    hr = [ride_hr(i) for i in range(seconds)]
    power = [ride_power(i) for i in range(seconds)]
    lap_s = seconds // 4
    laps = [
        lap(
            start=start + timedelta(seconds=k * lap_s),
            seconds=lap_s,
            total_distance=lap_s * 8.5,
            avg_heart_rate=round(sum(hr[k * lap_s : (k + 1) * lap_s]) / lap_s),
            avg_power=round(sum(power[k * lap_s : (k + 1) * lap_s]) / lap_s),
        )
        for k in range(4)
    ]
    return encode(
        [
            file_id(when=start),
            *records,
            *laps,
            session(
                start=start,
                seconds=seconds,
                sport="cycling",
                sub_sport="road",
                distance_m=(seconds - 1) * 8.5,
                num_laps=4,
                avg_heart_rate=round(sum(hr) / seconds),
                max_heart_rate=max(hr),
                avg_power=round(sum(power) / seconds),
                max_power=max(power),
                total_ascent=35,
                total_calories=900,
            ),
            activity(end=start + timedelta(seconds=seconds)),
        ]
    )


# A triathlon: swim, T1, bike, T2, run. (sport, sub_sport, seconds, speed m/s)
TRIATHLON_LEGS: list[tuple[str, str, int, float]] = [
    ("swimming", "open_water", 120, 1.2),
    ("transition", "swim_to_bike_transition", 30, 1.0),
    ("cycling", "road", 300, 9.0),
    ("transition", "bike_to_run_transition", 20, 1.0),
    ("running", "street", 240, 3.5),
]


def triathlon(*, start: datetime = START) -> bytes:
    """A multi-sport file: one session per leg, records and a lap per leg, one activity."""
    messages: list[dict[str, Any]] = [file_id(when=start)]
    t = start
    distance = 0.0
    summaries: list[dict[str, Any]] = []
    for index, (sport, sub_sport, seconds, speed) in enumerate(TRIATHLON_LEGS):
        for i in range(seconds):
            messages.append(
                {
                    "mesg_num": MESG["RECORD"],
                    "timestamp": t + timedelta(seconds=i),
                    "distance": distance + i * speed,
                    "enhanced_speed": speed,
                    "heart_rate": 130 + index * 5,
                }
            )
        leg_distance = (seconds - 1) * speed
        messages.append(lap(start=t, seconds=seconds, total_distance=leg_distance, sport=sport))
        summaries.append(
            session(
                start=t,
                seconds=seconds,
                sport=sport,
                sub_sport=sub_sport,
                distance_m=leg_distance,
                first_lap_index=index,
                num_laps=1,
                avg_heart_rate=130 + index * 5,
            )
        )
        distance += seconds * speed
        t += timedelta(seconds=seconds)
    messages.extend(summaries)
    messages.append(activity(end=t, num_sessions=len(TRIATHLON_LEGS), utc_offset_s=-4 * 3600))
    return encode(messages)


def with_developer_fields(*, start: datetime = START, seconds: int = 60) -> bytes:
    """A ride whose records carry a developer field (a Stryd-style 'form_power', uint16)."""
    developer = {
        "mesg_num": MESG["DEVELOPER_DATA_ID"],
        "developer_data_index": 0,
        "application_id": list(range(16)),
    }
    description = {
        "mesg_num": MESG["FIELD_DESCRIPTION"],
        "developer_data_index": 0,
        "field_definition_number": 0,
        "fit_base_type_id": 0x84,  # uint16
        "field_name": "form_power",
        "units": "watts",
    }
    records = ride_records(start=start, seconds=seconds)
    for i, record in enumerate(records):
        record["developer_fields"] = {0: 50 + i}
    messages = [
        file_id(when=start),
        developer,
        description,
        *records,
        session(start=start, seconds=seconds, sport="cycling", distance_m=(seconds - 1) * 8.5),
        activity(end=start + timedelta(seconds=seconds)),
    ]
    fields = {0: {"developer_data_id_mesg": developer, "field_description_mesg": description}}
    return encode(messages, field_descriptions=fields)


def unknown_sport(*, start: datetime = START, sport: int = 200) -> bytes:
    """A short activity whose session names a sport number no profile defines."""
    return encode(
        [
            file_id(when=start),
            *ride_records(start=start, seconds=30),
            session(start=start, seconds=30, sport=sport, sub_sport=0),
            activity(end=start + timedelta(seconds=30)),
        ]
    )


def settings_file() -> bytes:
    """A device settings file (file_id type 2): not an activity."""
    return encode(
        [
            file_id(kind="settings"),
            {"mesg_num": MESG["USER_PROFILE"], "friendly_name": "Rider", "weight": 70.0},
        ]
    )


# --- byte-level writer --------------------------------------------------------------------
_CODES = {
    0x00: "B", 0x01: "b", 0x02: "B", 0x83: "h", 0x84: "H", 0x85: "i", 0x86: "I",
    0x88: "f", 0x89: "d", 0x0A: "B", 0x8B: "H", 0x8C: "I", 0x0D: "B",
}  # fmt: skip


class RawFit:
    """Writes FIT records by hand (definitions, normal and compressed-timestamp data)."""

    def __init__(self) -> None:
        self.body = bytearray()
        self._layouts: dict[int, tuple[str, list[tuple[int, int, int]]]] = {}

    def define(
        self,
        local: int,
        global_num: int,
        fields: Sequence[tuple[int, int, int]],
        *,
        big_endian: bool = False,
        dev_fields: Sequence[tuple[int, int, int]] = (),
    ) -> RawFit:
        """A definition: fields are (number, size, base type); dev fields (number, size, index)."""
        order = ">" if big_endian else "<"
        header = 0x40 | local | (0x20 if dev_fields else 0)
        self.body += struct.pack(
            order + "BBBHB", header, 0, 1 if big_endian else 0, global_num, len(fields)
        )
        fmt = order
        for num, size, base in fields:
            self.body += bytes([num, size, base])
            code = _CODES[base]
            fmt += f"{size}s" if base == 0x07 else code * (size // struct.calcsize(code))
        if dev_fields:
            self.body.append(len(dev_fields))
            for num, size, index in dev_fields:
                self.body += bytes([num, size, index])
                fmt += f"{size}s"
        self._layouts[local] = (fmt, list(fields))
        return self

    def data(self, local: int, *values: Any) -> RawFit:
        """A data message with a normal header."""
        self.body.append(local)
        self.body += struct.pack(self._layouts[local][0], *values)
        return self

    def compressed(self, local: int, offset: int, *values: Any) -> RawFit:
        """A data message with a compressed timestamp header (local 0-3, 5-bit offset)."""
        self.body.append(0x80 | (local << 5) | (offset & 0x1F))
        self.body += struct.pack(self._layouts[local][0], *values)
        return self

    def close(self, *, header_size: int = 14) -> bytes:
        """Header + records + file CRC (CRC by the SDK's CrcCalculator)."""
        header = bytearray(struct.pack("<BBHI4s", header_size, 0x20, 2132, len(self.body), b".FIT"))
        if header_size == 14:
            header += struct.pack("<H", CrcCalculator.calculate_crc(header, 0, 12))
        data = bytes(header) + bytes(self.body)
        return data + struct.pack("<H", CrcCalculator.calculate_crc(data, 0, len(data)))


def with_fixed_crc(data: bytes) -> bytes:
    """Recompute the file CRC of a one-part FIT file after its bytes were changed."""
    body = data[:-2]
    return body + struct.pack("<H", CrcCalculator.calculate_crc(body, 0, len(body)))


FILE_ID_FIELDS = [(0, 1, 0x00), (1, 2, 0x84), (2, 2, 0x84), (3, 4, 0x8C), (4, 4, 0x86)]
RECORD_FIELDS = [(253, 4, 0x86), (3, 1, 0x02), (7, 2, 0x84)]
COMPRESSED_RECORD_FIELDS = [(3, 1, 0x02), (7, 2, 0x84)]


def compressed_timestamps(*, start: datetime = START, seconds: int = 70) -> tuple[bytes, list[int]]:
    """Records with compressed timestamp headers after one full timestamp.

    The 5-bit offset rolls over every 32 s, exercising the roll-over rule. Returns the file
    and the expected Unix timestamps of the records.
    """
    fit = RawFit()
    t0 = fit_time(start)
    fit.define(0, MESG["FILE_ID"], FILE_ID_FIELDS).data(0, 4, 1, 1567, 99, t0)
    fit.define(1, MESG["RECORD"], RECORD_FIELDS).data(1, t0, 120, 200)
    fit.define(2, MESG["RECORD"], COMPRESSED_RECORD_FIELDS)
    expected = [t0 + FIT_EPOCH_UNIX]
    for i in range(1, seconds):
        fit.compressed(2, (t0 + i) & 0x1F, 120 + i % 20, 200 + i)
        expected.append(t0 + i + FIT_EPOCH_UNIX)
    return fit.close(), expected
