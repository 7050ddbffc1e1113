"""Uploads: format sniffing against the extension, limits, future dates, zips and zip bombs."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.files import fitgen
from tests.unit.files.conftest import fixture_bytes
from tests.unit.files.test_gpx import GARMIN_GPX
from tests.unit.files.test_tcx import RIDE_TCX
from training_analyzer.adapters.files import expand_upload, parse_activity_file, sniff_format
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.parsed import ParsedFile

MB = 1024 * 1024
LIMIT = 25 * MB  # the product's default upload limit
NOW = datetime(2024, 6, 1, tzinfo=UTC)
RUN_FIT = fixture_bytes("garmin-fenix-5-run.fit")


def _parse(
    data: bytes, filename: str, *, max_bytes: int = LIMIT, now: datetime = NOW
) -> ParsedFile:
    return parse_activity_file(data=data, filename=filename, max_bytes=max_bytes, now=now)


def _zip(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- sniffing and single files ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "fmt"),
    [(RUN_FIT, "fit"), (GARMIN_GPX, "gpx"), (RIDE_TCX, "tcx"), (b"<kml/>", None), (b"", None)],
)
def test_format_is_sniffed_from_content(data: bytes, fmt: str | None) -> None:
    assert sniff_format(data) == fmt


@pytest.mark.parametrize(
    ("data", "filename", "fmt"),
    [
        (RUN_FIT, "run.FIT", "fit"),
        (GARMIN_GPX, "ride.gpx", "gpx"),
        (RIDE_TCX, "a/b/ride.tcx", "tcx"),
    ],
)
def test_each_format_parses_under_its_extension(data: bytes, filename: str, fmt: str) -> None:
    parsed = parse_activity_file(data=data, filename=filename, max_bytes=LIMIT, now=NOW)
    assert parsed.format == fmt
    assert len(parsed.activities) == 1


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (RUN_FIT, "run.gpx", "named .gpx but is a FIT file"),
        (GARMIN_GPX, "ride.fit", "named .fit but is a GPX file"),
        (RIDE_TCX, "ride.gpx", "named .gpx but is a TCX file"),
        (_zip({"a.fit": RUN_FIT}), "run.fit", "named .fit but is a zip archive"),
        (b"<kml/>", "ride.gpx", "neither GPX nor TCX"),
        (b"MZ\x90\x00 not an activity", "ride.fit", "not a FIT, GPX or TCX"),
    ],
)
def test_content_that_disagrees_with_the_extension_is_refused(
    data: bytes, filename: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        _parse(data, filename)
    assert info.value.argument == "file"


@pytest.mark.parametrize("filename", ["ride.txt", "ride", "ride.xml"])
def test_unsupported_extensions_are_refused(filename: str) -> None:
    with pytest.raises(InvalidInput, match="unsupported file type"):
        _parse(GARMIN_GPX, filename)


def test_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        _parse(b"", "ride.fit")


def test_file_over_the_size_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="over the 1,000-byte limit"):
        _parse(RUN_FIT, "run.fit", max_bytes=1000)


@pytest.mark.parametrize(
    "name", ["Settings.fit", "activity-unexpected-eof.fit", "activity-settings-corruptheader.fit"]
)
def test_refused_fixtures_are_refused_through_the_upload_path(name: str) -> None:
    with pytest.raises(InvalidInput):
        _parse(fixture_bytes(name), name)


def test_activity_dated_more_than_a_day_ahead_is_refused() -> None:
    data = fitgen.unknown_sport(start=NOW + timedelta(days=400))
    with pytest.raises(InvalidInput, match="in the future"):
        _parse(data, "ride.fit")


def test_activity_within_a_day_of_now_is_accepted() -> None:
    # Clocks and time zones differ by hours, never by a day (offsets stay within 14 h).
    data = fitgen.unknown_sport(start=NOW + timedelta(hours=20))
    assert len(_parse(data, "ride.fit").activities) == 1


def test_gpx_with_future_times_is_refused() -> None:
    data = GARMIN_GPX.replace(b"2024-05-01", b"2031-05-01")
    with pytest.raises(InvalidInput, match="in the future"):
        _parse(data, "ride.gpx")


def test_naive_now_is_an_argument_error() -> None:
    with pytest.raises(InvalidInput) as info:
        _parse(RUN_FIT, "run.fit", now=datetime(2024, 6, 1))  # naive on purpose
    assert info.value.argument == "now"


# --- expand_upload ------------------------------------------------------------------------------
def _expand(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = LIMIT,
    max_members: int = 500,
    max_ratio: float = 100.0,
) -> list[tuple[str, bytes]]:
    return expand_upload(
        data=data,
        filename=filename,
        max_bytes=max_bytes,
        max_members=max_members,
        max_ratio=max_ratio,
    )


def test_plain_file_upload_is_itself() -> None:
    assert _expand(RUN_FIT, "run.fit") == [("run.fit", RUN_FIT)]


def test_zip_yields_activity_files_from_folders_and_skips_the_rest() -> None:
    data = _zip(
        {
            "export/activities/1.fit": RUN_FIT,
            "export/activities/2.gpx": GARMIN_GPX,
            "export/3.tcx.gz": gzip.compress(RIDE_TCX),
            "__MACOSX/export/activities/._1.fit": b"resource fork",
            "export/.hidden.fit": b"not really",
            "export/readme.txt": b"hello",
            "export/nested.zip": b"PK\x05\x06" + b"\x00" * 18,
        }
    )
    got = _expand(data, "export.zip")
    assert got == [
        ("export/activities/1.fit", RUN_FIT),
        ("export/activities/2.gpx", GARMIN_GPX),
        ("export/3.tcx", RIDE_TCX),
    ]
    for name, member in got:
        assert _parse(member, name) is not None


def test_zip_without_activity_files_is_refused() -> None:
    data = _zip({"notes.txt": b"hi", "photos/1.jpg": b"\xff\xd8"})
    with pytest.raises(InvalidInput, match="holds no FIT, GPX or TCX file"):
        _expand(data, "export.zip")


def test_empty_zip_is_refused() -> None:
    with pytest.raises(InvalidInput, match="holds no FIT, GPX or TCX file"):
        _expand(_zip({}), "export.zip")


def test_zip_bomb_is_refused_by_ratio_while_inflating() -> None:
    # 50 MB of zeros deflate to about 50 kB: a 1,000:1 ratio, ten times the 100:1 limit.
    bomb = _zip({"bomb.gpx": bytes(50 * MB)})
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput, match="inflates more than 100:1"):
        _expand(bomb, "bomb.zip")


def test_zip_over_the_total_size_is_refused_even_at_an_honest_ratio() -> None:
    members = {f"{i}.fit": RUN_FIT for i in range(40)}  # 40 x 5.6 kB = 224 kB inflated
    with pytest.raises(InvalidInput, match="more than 200,000 bytes"):
        _expand(_zip(members), "many.zip", max_bytes=200_000)


def test_zip_with_lying_header_sizes_is_refused() -> None:
    data = bytearray(_zip({"bomb.gpx": bytes(5 * MB)}))
    # Claim 100 bytes uncompressed in the local header (offset 22) and the central directory
    # entry (offset 24): zipfile stops at the claimed size and the CRC then fails.
    struct.pack_into("<I", data, 22, 100)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    with pytest.raises(InvalidInput, match=r"damaged|inflates more"):
        _expand(bytes(data), "bomb.zip")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_members_other_than_deflate_are_refused_before_inflating(method: int) -> None:
    # One bzip2/LZMA read may inflate gigabytes before any budget check: refuse the method.
    bomb = _zip({"ride.fit": bytes(8 * MB)}, method=method)
    assert len(bomb) < 10_000
    with pytest.raises(InvalidInput, match="compression method other than deflate"):
        _expand(bomb, "bomb.zip")


def test_zip_with_too_many_activity_files_is_refused() -> None:
    members = {f"{i}.fit": b"x" for i in range(6)}
    with pytest.raises(InvalidInput, match="holds 6 activity files; at most 5"):
        _expand(_zip(members), "many.zip", max_members=5)


def test_truncated_zip_is_refused() -> None:
    data = _zip({"a.fit": RUN_FIT})
    with pytest.raises(InvalidInput, match="zip archive is damaged"):
        _expand(data[: len(data) // 2], "a.zip")


def test_password_protected_zip_is_refused() -> None:
    data = bytearray(_zip({"a.fit": RUN_FIT}, method=zipfile.ZIP_STORED))
    # Set general-purpose flag bit 0 ("encrypted") in the local and central headers.
    data[6] |= 0x01
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x01
    with pytest.raises(InvalidInput, match="password-protected"):
        _expand(bytes(data), "a.zip")


def test_zip_named_otherwise_and_zip_name_on_other_content_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"named \.gpx but is a zip archive"):
        _expand(_zip({"a.fit": RUN_FIT}), "a.gpx")
    with pytest.raises(InvalidInput, match=r"named \.zip but is a FIT file"):
        _expand(RUN_FIT, "a.zip")


def test_gzip_upload_is_inflated() -> None:
    assert _expand(gzip.compress(RUN_FIT), "run.fit.gz") == [("run.fit", RUN_FIT)]


def test_gzip_bomb_is_refused() -> None:
    with pytest.raises(InvalidInput, match="inflates more than 100:1"):
        _expand(gzip.compress(bytes(20 * MB)), "bomb.gpx.gz")


def test_truncated_gzip_is_refused() -> None:
    data = gzip.compress(RUN_FIT)
    with pytest.raises(InvalidInput, match="gzip-compressed file ends early"):
        _expand(data[: len(data) // 2], "run.fit.gz")


def test_gzip_of_something_else_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"must hold a \.fit, \.gpx or \.tcx"):
        _expand(gzip.compress(b"hello"), "notes.txt.gz")


def test_empty_and_oversize_uploads_are_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        _expand(b"", "a.zip")
    with pytest.raises(InvalidInput, match="over the 10-byte limit"):
        _expand(RUN_FIT, "a.fit", max_bytes=10)
