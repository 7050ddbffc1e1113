"""Safe, streaming XML reading for GPX and TCX, on the stdlib's expat parser.

XML attacks (billion laughs, quadratic blow-up, external entities: see the Python docs,
"XML vulnerabilities") all need a document type declaration. GPX and TCX never have one, so
we refuse any DOCTYPE or ENTITY declaration twice over: a byte scan of the prolog up front
(a plain-ASCII or UTF-8 file), then expat handlers that stop the parse the moment a DOCTYPE
or entity declaration begins, whatever the encoding. Parameter entities are never parsed and
no external entity is ever fetched (expat fetches nothing unless a handler is installed).
Elements are streamed to a handler by local name; no tree is built.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Protocol
from xml.parsers import expat

from training_analyzer.core.errors import InvalidInput

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class XmlHandler(Protocol):
    """Receives elements by local name (namespace dropped) with their parents' local names."""

    def start(self, name: str, attrs: dict[str, str], parents: list[str]) -> None:
        """An element opens."""

    def end(self, name: str, text: str, parents: list[str]) -> None:
        """An element closes; `text` is its own character data, stripped."""


def _local(name: str) -> str:
    # Namespaces are not processed: real files sometimes use a prefix they never declare
    # (e.g. "gpxtpx:hr"), and the local name alone tells us what an element is.
    return name.rsplit(":", 1)[-1]


def _refuse_declaration(*_args: object) -> None:
    raise InvalidInput(
        "file", "XML with a DOCTYPE or ENTITY declaration is refused (GPX and TCX never need one)"
    )


def parse_xml(data: bytes, *, handler: XmlHandler, what: str) -> None:
    """Stream `data` to `handler`; raise InvalidInput for malformed or unsafe XML."""
    if _DECLARATION.search(data[:65536]):
        _refuse_declaration()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_declaration
    parser.EntityDeclHandler = _refuse_declaration
    parser.buffer_text = True
    stack: list[str] = []
    texts: list[list[str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        handler.start(local, {_local(k): v for k, v in attrs.items()}, stack)
        stack.append(local)
        texts.append([])

    def end(_name: str) -> None:
        local = stack.pop()
        text = "".join(texts.pop()).strip()
        handler.end(local, text, stack)

    def chars(text: str) -> None:
        if texts:
            texts[-1].append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InvalidInput(
            "file",
            f"this {what} file is not well-formed XML ({expat.errors.messages[exc.code]}"
            f", line {exc.lineno})",
        ) from None
    except InvalidInput:
        raise
    except (UnicodeDecodeError, LookupError, ValueError):
        # ValueError: expat refuses multi-byte encodings other than UTF-8/16 (e.g. UTF-7).
        raise InvalidInput("file", f"this {what} file has an unreadable text encoding") from None


def root_element(data: bytes) -> str | None:
    """The local name of the root element, or None if `data` does not start like XML."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<") and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    found: list[str] = []

    class _Stop(Exception):  # noqa: N818 - a private control-flow signal
        pass

    def start(name: str, _attrs: dict[str, str]) -> None:
        found.append(_local(name))
        raise _Stop

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_declaration
    parser.EntityDeclHandler = _refuse_declaration
    parser.StartElementHandler = start
    try:
        parser.Parse(data[:65536], False)
    except _Stop:
        pass
    except InvalidInput:
        raise
    except (expat.ExpatError, UnicodeDecodeError, LookupError, ValueError):
        return None
    return found[0] if found else None


def parse_time(text: str) -> tuple[float, int | None] | None:
    """ISO 8601 time -> (Unix seconds, UTC offset in seconds or None); None if unreadable.

    A time ending in "Z" (or without any offset, which GPX 1.1 defines as UTC) tells UTC but
    not the device's local offset, so the offset is None; an explicit numeric offset such as
    "+02:00" is the local offset and is kept.
    """
    text = text.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC).timestamp(), None
    delta = when.utcoffset()
    offset = None if text[-1:] in ("Z", "z") or delta is None else int(delta.total_seconds())
    return when.timestamp(), offset


def number(text: str) -> float | None:
    """A finite float from element text, or None (blank, malformed, NaN, infinite)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
