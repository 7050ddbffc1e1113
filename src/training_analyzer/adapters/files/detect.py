"""Upload handling: unpack zips and gzip safely, sniff the format, parse, sanity-check times.

`expand_upload` turns an upload into the activity files it holds (one file, or the FIT/GPX/TCX
members of a zip, or a gzip-compressed file as Strava's bulk export writes them);
`parse_activity_file` decodes one of them. Both refuse bad input with InvalidInput naming
argument "file" and a message meant for the user; neither stores anything.

Zip limits (docs/files.md): a zip bomb is a small archive that inflates to gigabytes
(42.zip: 42 kB to 4.5 PB). Header sizes can lie, so sizes are counted on the bytes actually
inflated, while inflating, and the work stops the moment either limit is crossed: the total
inflated size (`max_bytes`, the same limit as a plain upload) and the ratio of inflated bytes
to the bytes uploaded (`max_ratio`, 100:1 by default: FIT compresses about 3:1 and GPX/TCX
text about 10-20:1, so 100:1 leaves room for honest files while stopping bombs, which run to
1,000:1 and more). The number of activity members is capped too (`max_members`).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from training_analyzer.adapters.files.fit import parse_fit
from training_analyzer.adapters.files.gpx import parse_gpx
from training_analyzer.adapters.files.tcx import parse_tcx
from training_analyzer.adapters.files.xmlsafe import root_element
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.parsed import FileFormat, ParsedFile

DEFAULT_MAX_MEMBERS: Final = 500
DEFAULT_MAX_RATIO: Final = 100.0
# A clock more than a day ahead of ours is wrong, not a time zone (offsets stay within 14 h).
FUTURE_TOLERANCE: Final = timedelta(days=1)

_EXTENSIONS: Final[dict[str, FileFormat]] = {".fit": "fit", ".gpx": "gpx", ".tcx": "tcx"}
_PARSERS: Final[dict[FileFormat, Callable[..., ParsedFile]]] = {
    "fit": parse_fit,
    "gpx": parse_gpx,
    "tcx": parse_tcx,
}
_ZIP_MAGIC: Final = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC: Final = b"PK\x05\x06"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_CHUNK: Final = 64 * 1024


def _refuse(message: str) -> InvalidInput:
    return InvalidInput("file", message)


def _suffix(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def sniff_format(data: bytes) -> FileFormat | None:
    """The format of `data` from its content: FIT header magic, or the XML root element."""
    if len(data) >= 12 and data[8:12] == b".FIT":
        return "fit"
    root = root_element(data)
    if root == "gpx":
        return "gpx"
    if root == "TrainingCenterDatabase":
        return "tcx"
    return None


def _describe(data: bytes) -> str:
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        return "a zip archive"
    if data.startswith(_GZIP_MAGIC):
        return "a gzip-compressed file"
    fmt = sniff_format(data)
    if fmt is not None:
        return f"a {fmt.upper()} file"
    if root_element(data) is not None:
        return "an XML file that is neither GPX nor TCX"
    return "not a FIT, GPX or TCX activity file"


def parse_activity_file(*, data: bytes, filename: str, max_bytes: int, now: datetime) -> ParsedFile:
    """Decode one activity file, checking its content agrees with its extension.

    Raises InvalidInput(argument="file") when the file is empty, over `max_bytes`, of a
    format other than its extension says, undecodable, not an activity, or recorded more than
    a day after `now` (a device clock gone wrong).
    """
    if now.tzinfo is None:
        raise InvalidInput("now", "must be a timezone-aware datetime")
    if not data:
        raise _refuse("the file is empty")
    if len(data) > max_bytes:
        raise _refuse(f"the file is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    suffix = _suffix(filename)
    expected = _EXTENSIONS.get(suffix)
    if expected is None:
        raise _refuse(
            f"unsupported file type {suffix or '(no extension)'}: "
            "upload a .fit, .gpx or .tcx file, or a .zip of them"
        )
    fmt = sniff_format(data)
    if fmt != expected:
        raise _refuse(f"the file is named {suffix} but is {_describe(data)}")
    parsed = _PARSERS[fmt](data=data)
    limit = now + FUTURE_TOLERANCE
    for activity in parsed.activities:
        last = activity.streams.time_s[-1] if activity.streams.time_s else 0.0
        end = activity.start_time + timedelta(seconds=max(activity.elapsed_s, last))
        if end > limit:
            raise _refuse(
                f"the activity is dated {end:%Y-%m-%d %H:%M} UTC, in the future: "
                "the recording device's clock is wrong"
            )
    return parsed


class _Budget:
    """Counts inflated bytes across an upload and stops at either limit."""

    def __init__(self, *, upload_size: int, max_bytes: int, max_ratio: float) -> None:
        self.total = 0
        self.limit = min(max_bytes, int(max_ratio * max(upload_size, 1)))
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio

    def check_declared(self, size: int) -> None:
        """Refuse up front when the archive's own declared sizes exceed the budget."""
        if size > self.limit:
            self.take(size)

    def take(self, size: int) -> None:
        self.total += size
        if self.total > self.limit:
            if self.limit == self.max_bytes:
                raise _refuse(
                    f"the archive unpacks to more than {self.max_bytes:,} bytes (the upload "
                    "limit); refused as a possible zip bomb"
                )
            raise _refuse(
                f"the archive inflates more than {self.max_ratio:g}:1; refused as a zip bomb"
            )


def _read_stream(read: Callable[[int], bytes], budget: _Budget) -> bytes:
    out = bytearray()
    while chunk := read(_CHUNK):
        budget.take(len(chunk))
        out += chunk
    return bytes(out)


def _gunzip(data: bytes, budget: _Budget) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    pos = 0
    try:
        # Inflate at most _CHUNK bytes per step so a bomb is stopped early, not after the fact.
        pending = data[pos : pos + _CHUNK]
        pos += len(pending)
        while True:
            chunk = inflater.decompress(pending, _CHUNK)
            budget.take(len(chunk))
            out += chunk
            pending = inflater.unconsumed_tail
            if not pending:
                if inflater.eof or pos >= len(data):
                    break
                pending = data[pos : pos + _CHUNK]
                pos += len(pending)
    except zlib.error:
        raise _refuse("the gzip-compressed file is damaged") from None
    if not inflater.eof:
        raise _refuse("the gzip-compressed file ends early: it is truncated")
    return bytes(out)


def _activity_name(name: str) -> str | None:
    """The member's name without a .gz suffix if it names an activity file, else None."""
    parts = name.replace("\\", "/").split("/")
    base = parts[-1]
    if not base or "__MACOSX" in parts or base.startswith("."):
        return None
    lowered = base.lower()
    stem = name[:-3] if lowered.endswith(".gz") else name
    return stem if _suffix(stem) in _EXTENSIONS else None


def expand_upload(
    *,
    data: bytes,
    filename: str,
    max_bytes: int,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> list[tuple[str, bytes]]:
    """The (name, bytes) of every activity file in an upload, checked whole before returning.

    A plain file comes back as itself; a `.gz` file inflated; a zip yields its FIT/GPX/TCX
    members (folders recursed; `__MACOSX`, hidden and other files ignored; `.fit.gz` etc.
    inflated). Raises InvalidInput(argument="file") for an empty or oversize upload, a
    damaged, encrypted or bomb-like archive, too many members, or a zip with no activity.
    """
    if not data:
        raise _refuse("the file is empty")
    if len(data) > max_bytes:
        raise _refuse(f"the file is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    suffix = _suffix(filename)
    is_zip = data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC))
    budget = _Budget(upload_size=len(data), max_bytes=max_bytes, max_ratio=max_ratio)
    if suffix == ".zip" or is_zip:
        if not is_zip:
            raise _refuse(f"the file is named .zip but is {_describe(data)}")
        if suffix != ".zip":
            raise _refuse(
                f"the file is named {suffix or 'without an extension'} but is a zip archive"
            )
        return _expand_zip(data, budget=budget, max_members=max_members)
    if suffix == ".gz":
        inner = filename[:-3]
        if not data.startswith(_GZIP_MAGIC):
            raise _refuse(f"the file is named .gz but is {_describe(data)}")
        if _suffix(inner) not in _EXTENSIONS:
            raise _refuse("a .gz upload must hold a .fit, .gpx or .tcx file (e.g. ride.fit.gz)")
        return [(inner, _gunzip(data, budget))]
    return [(filename, data)]


def _expand_zip(data: bytes, *, budget: _Budget, max_members: int) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise _refuse("the zip archive is damaged") from None
    out: list[tuple[str, bytes]] = []
    with archive:
        entries = archive.infolist()
        if len(entries) > 10 * max_members:
            raise _refuse(f"the zip archive has {len(entries):,} entries, too many to import")
        chosen = [(info, name) for info in entries if (name := _activity_name(info.filename))]
        chosen = [(info, name) for info, name in chosen if not info.is_dir()]
        if len(chosen) > max_members:
            raise _refuse(
                f"the zip archive holds {len(chosen):,} activity files; at most {max_members:,} "
                "per upload"
            )
        # Only stored and deflate members: zipfile bounds each deflate read, but a bzip2 or
        # LZMA read can inflate gigabytes at once, before the budget is checked. The declared
        # sizes are a cheap first guard (never the only one: they can lie).
        for info, _ in chosen:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _refuse(
                    f"the zip member {info.filename} uses a compression method other than "
                    "deflate; re-create the archive with standard (deflate) compression"
                )
        budget.check_declared(sum(info.file_size for info, _ in chosen))
        for info, name in chosen:
            try:
                with archive.open(info) as member:
                    raw = _read_stream(member.read, budget)
            except InvalidInput:
                raise  # a limit crossed: InvalidInput is a ValueError, keep it as it is
            except RuntimeError:
                raise _refuse("the zip archive is password-protected") from None
            except NotImplementedError:
                raise _refuse("the zip archive uses a compression method we cannot read") from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
                raise _refuse(f"the zip archive is damaged (member {info.filename})") from None
            if info.filename.lower().endswith(".gz"):
                raw = _gunzip(raw, budget)
            out.append((name, raw))
    if not out:
        raise _refuse("the zip archive holds no FIT, GPX or TCX file")
    return out
