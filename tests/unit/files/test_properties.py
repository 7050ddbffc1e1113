"""Properties: no byte string crashes a decoder with anything but InvalidInput."""

from __future__ import annotations

import itertools
import math
import struct

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.unit.files import fitgen
from training_analyzer.adapters.files.fit import parse_fit
from training_analyzer.adapters.files.gpx import parse_gpx
from training_analyzer.adapters.files.sports import sport_from_fit, sport_from_name
from training_analyzer.adapters.files.tcx import parse_tcx
from training_analyzer.core.activities import Sport
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.parsed import ParsedFile

SMALL_RIDE = fitgen.unknown_sport(sport=2)


def _decodes_or_refuses(parse: object, data: bytes) -> None:
    assert callable(parse)
    try:
        parsed = parse(data=data)
    except InvalidInput:
        return
    # Whatever decodes is well-formed: finite figures and strictly increasing time.
    assert isinstance(parsed, ParsedFile)
    for activity in parsed.activities:
        assert math.isfinite(activity.elapsed_s)
        times = activity.streams.time_s
        assert all(b > a for a, b in itertools.pairwise(times))


def _wrap_as_fit(body: bytes) -> bytes:
    """Random bytes behind a valid header and CRC, so they reach the message decoder."""
    fit = fitgen.RawFit()
    fit.body += body
    return fit.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\x0e\x10\x00\x00\xff\xff\xff\xff.FIT\x00\x00")
def test_random_bytes_never_crash_the_fit_decoder(data: bytes) -> None:
    _decodes_or_refuses(parse_fit, data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1024))
@example(b"\x40\x00\x00\x14\x00\xff")  # a definition announcing 255 fields, then nothing
@example(b"\x60\x00\x00\x14\x00\x00")  # developer-field flag with the count missing
def test_random_records_behind_a_valid_header_never_crash_the_fit_decoder(body: bytes) -> None:
    _decodes_or_refuses(parse_fit, _wrap_as_fit(body))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(14, len(SMALL_RIDE) - 3), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_a_real_file_with_changed_bytes_and_fixed_crc_decodes_or_is_refused(
    changes: list[tuple[int, int]],
) -> None:
    data = bytearray(SMALL_RIDE)
    for position, value in changes:
        data[position] = value
    _decodes_or_refuses(parse_fit, fitgen.with_fixed_crc(bytes(data)))


@settings(max_examples=200)
@given(st.binary(max_size=1024))
@example(b'<?xml version="1.0"?><gpx><trk><trkseg><trkpt lat="x"/></trkseg></trk></gpx>')
def test_random_bytes_never_crash_the_gpx_decoder(data: bytes) -> None:
    _decodes_or_refuses(parse_gpx, data)


@settings(max_examples=200)
@given(st.binary(max_size=1024))
def test_random_bytes_never_crash_the_tcx_decoder(data: bytes) -> None:
    _decodes_or_refuses(parse_tcx, data)


_GPX_POINT = '<trkpt lat="{lat}" lon="{lon}"><time>{time}</time><ele>{ele}</ele></trkpt>'


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=12),
            st.text(max_size=12),
            st.one_of(st.text(max_size=30), st.just("2024-05-01T06:00:00Z")),
            st.text(max_size=8),
        ),
        max_size=6,
    )
)
def test_gpx_with_arbitrary_field_text_decodes_or_is_refused(
    points: list[tuple[str, str, str, str]],
) -> None:
    from xml.sax.saxutils import escape, quoteattr

    body = "".join(
        _GPX_POINT.format(
            lat=quoteattr(lat)[1:-1], lon=quoteattr(lon)[1:-1], time=escape(t), ele=escape(e)
        )
        for lat, lon, t, e in points
    )
    _decodes_or_refuses(parse_gpx, f"<gpx><trk><trkseg>{body}</trkseg></trk></gpx>".encode())


@given(st.one_of(st.none(), st.integers(0, 255)), st.one_of(st.none(), st.integers(0, 255)))
def test_every_fit_sport_pair_maps_to_a_sport(sport: int | None, sub_sport: int | None) -> None:
    assert isinstance(sport_from_fit(sport=sport, sub_sport=sub_sport), Sport)


@given(st.one_of(st.none(), st.text(max_size=40)))
def test_every_sport_name_maps_to_a_sport(name: str | None) -> None:
    assert isinstance(sport_from_name(name), Sport)


def test_wrapped_fit_helper_builds_a_decodable_header() -> None:
    # The wrapper must give a valid frame, or the property above would test only the header.
    data = _wrap_as_fit(b"")
    assert struct.unpack_from("<I", data, 4)[0] == 0
    assert data[8:12] == b".FIT"
