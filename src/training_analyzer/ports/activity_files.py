"""The activity-file port: what the import use case needs from a file decoder.

`training_analyzer.adapters.files` satisfies it as a module (mypy accepts a module as an
implementation of a Protocol), so the container wires the module itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from training_analyzer.core.parsed import ParsedFile


class ActivityFileReader(Protocol):
    """Unpacks uploads and decodes FIT, GPX and TCX files into core `ParsedFile`s.

    Both methods raise InvalidInput(argument="file") with a message meant for the user when
    the input is refused (empty, oversize, damaged, a zip bomb, not an activity, wrong format
    for its extension, dated in the future); neither stores anything.
    """

    def expand_upload(
        self, *, data: bytes, filename: str, max_bytes: int
    ) -> list[tuple[str, bytes]]:
        """The (name, bytes) of every activity file in an upload (a file, a .gz or a zip)."""
        ...

    def parse_activity_file(
        self, *, data: bytes, filename: str, max_bytes: int, now: datetime
    ) -> ParsedFile:
        """Decode one activity file whose format must agree with its extension."""
        ...
