"""All configuration, read once from `TA_*` environment variables (and an optional `.env` file).

Every setting is typed and validated at start: a wrong value names the variable and what it
expected. Secrets are wrapped in `Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec

from training_analyzer.core.errors import ConfigurationError

PREFIX: Final = "TA_"


class Secret:
    """A string that never shows itself in repr, str or logs; call `reveal()` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value (only at the point of use)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Environment(enum.StrEnum):
    """Where the service runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class LogFormat(enum.StrEnum):
    """How log lines are rendered: console in a terminal, JSON otherwise (auto)."""

    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


class LogLevel(enum.StrEnum):
    """The minimum level logged."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Workers = Annotated[int, msgspec.Meta(ge=1, le=64)]


def default_data_dir() -> Path:
    """The per-user data directory (XDG_DATA_HOME, else ~/.local/share) for the SQLite file."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "training-analyzer"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The whole configuration. Field `x` is read from `TA_X`; see `.env.example` and README."""

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: Port = 8000
    workers: Workers = 1
    database_url: str = ""
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.AUTO

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ConfigurationError("TA_HOST: expected a host name or address, got an empty value")

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: TA_DATABASE_URL, else a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{default_data_dir() / 'training-analyzer.db'}"

    def describe(self) -> dict[str, str]:
        """Settings as printable strings, secrets masked (for `config` output and start-up logs)."""
        out: dict[str, str] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            out[PREFIX + name.upper()] = repr(value) if isinstance(value, Secret) else str(value)
        return out


SECRET_FIELDS: Final[frozenset[str]] = frozenset(
    name
    for name, typ in Settings.__annotations__.items()
    if "Secret" in str(typ)  # annotations are strings under `from __future__ import annotations`
)


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse `KEY=VALUE` lines (comments, blank lines, `export`, and quotes allowed)."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f".env line {lineno}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _expected(field_type: Any) -> str:
    """Say in words what a field expects, for error messages."""
    text = str(field_type)
    if "Port" in text:
        return "an integer port between 1 and 65535"
    if "Workers" in text:
        return "an integer between 1 and 64"
    if text == "bool":
        return "true or false"
    for enum_type in (Environment, LogFormat, LogLevel):
        if enum_type.__name__ in text:
            return "one of " + ", ".join(m.value for m in enum_type)
    return text


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build Settings from the environment (which wins) and an optional `.env` file.

    Raises ConfigurationError naming the variable and what it expected.
    """
    env = dict(os.environ if environ is None else environ)
    raw: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        raw.update(parse_dotenv(dotenv.read_text(encoding="utf-8")))
    raw.update(env)
    fields = Settings.__struct_fields__
    annotations = Settings.__annotations__
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in fields:
            continue  # unknown TA_* variables are ignored so older configs keep working
        typ = str(annotations[name])
        if typ == "bool":
            lowered = value.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ConfigurationError(f"{key}: expected true or false, got {value!r}")
            values[name] = lowered in _TRUE
        elif "Secret" in typ:
            values[name] = Secret(value) if value else None
        else:
            values[name] = value.strip()
    try:
        return msgspec.convert(
            values,
            Settings,
            strict=False,
            dec_hook=lambda t, v: v if isinstance(v, Secret) else msgspec.convert(v, t),
        )
    except msgspec.ValidationError as exc:
        field = _field_from_error(str(exc))
        if field is None:
            raise ConfigurationError(f"invalid configuration: {exc}") from None
        shown = "(hidden)" if field in SECRET_FIELDS else repr(values.get(field))
        raise ConfigurationError(
            f"{PREFIX}{field.upper()}: expected {_expected(annotations[field])}, got {shown}"
        ) from None


def _field_from_error(message: str) -> str | None:
    """Pull the field name out of msgspec's '... - at `$.field`' message."""
    marker = "`$."
    start = message.rfind(marker)
    if start < 0:
        return None
    end = message.find("`", start + len(marker))
    return message[start + len(marker) : end].split("[")[0].split(".")[0] or None
