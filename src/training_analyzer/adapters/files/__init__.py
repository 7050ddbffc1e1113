"""Activity file decoders: FIT, GPX and TCX bytes -> `ParsedFile` (core types), and uploads.

`expand_upload` unpacks an upload (plain file, .gz, or a zip of them) into activity files;
`parse_activity_file` decodes one of them into a `ParsedFile`. docs/files.md describes what
is read, the sport mapping and the limits.
"""

from training_analyzer.adapters.files.detect import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    expand_upload,
    parse_activity_file,
    sniff_format,
)
from training_analyzer.adapters.files.fit import parse_fit, read_fit
from training_analyzer.adapters.files.gpx import parse_gpx
from training_analyzer.adapters.files.tcx import parse_tcx

__all__ = [
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_RATIO",
    "expand_upload",
    "parse_activity_file",
    "parse_fit",
    "parse_gpx",
    "parse_tcx",
    "read_fit",
    "sniff_format",
]
