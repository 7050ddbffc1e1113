"""One error tree for the whole product; each error carries a stable machine-readable code.

Adapters translate vendor exceptions into these; the HTTP layer maps codes to problem details.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the product raises on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details


class InvalidInput(DomainError, ValueError):  # noqa: N818 - the name is the product's vocabulary
    """Impossible input (negative duration, NaN, max HR <= rest HR, ...); names the argument."""

    code = "invalid_input"

    def __init__(self, argument: str, message: str, **details: Any) -> None:
        super().__init__(f"{argument}: {message}", argument=argument, **details)
        self.argument = argument


class NotFound(DomainError):  # noqa: N818
    """The thing does not exist, or belongs to another user (the two are indistinguishable)."""

    code = "not_found"


class Conflict(DomainError):  # noqa: N818
    """The write collides with existing state (duplicate key, stale version)."""

    code = "conflict"


class Unauthorized(DomainError):  # noqa: N818
    """Missing, invalid or expired credentials."""

    code = "unauthorized"


class Forbidden(DomainError):  # noqa: N818
    """Authenticated but not allowed (e.g. not an admin)."""

    code = "forbidden"


class QuotaExceeded(DomainError):  # noqa: N818
    """A tier limit or spend limit denies the request."""

    code = "quota_exceeded"


class RateLimited(DomainError):  # noqa: N818
    """Too many attempts; retry after `retry_after_s` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, **details: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **details)
        self.retry_after_s = retry_after_s


class ExternalServiceError(DomainError):
    """A provider (Stripe, OpenAI, Garmin, Strava, Google) failed or could not be reached."""

    code = "external_service_error"


class ConfigurationError(DomainError):
    """A setting is missing or malformed."""

    code = "configuration_error"
