"""Argon2id password hashing with argon2-cffi.

Default parameters are the second recommended option of RFC 9106 §4 ("uniformly safe" with a
64 MiB memory budget): Argon2id, t=3 passes, m=64 MiB, p=4 lanes, 16-byte salt, 32-byte tag
(argon2-cffi's `RFC_9106_LOW_MEMORY` profile). On a 2-core development machine a hash took
about 85-150 ms, and `verify` and `verify_dummy` both about 150 ms. Hashing runs in a worker
thread (argon2-cffi releases the GIL) so the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import base64

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from training_analyzer.core.errors import ConfigurationError, InvalidInput
from training_analyzer.core.identity import PASSWORD_MAX_LENGTH, normalize_password


class Argon2PasswordHasher:
    """Hashes with Argon2id; `verify` answers True/False and never raises on a mismatch."""

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_cost_kib: int = 65536,
        parallelism: int = 4,
        salt_len: int = 16,
        hash_len: int = 32,
    ) -> None:
        # RFC 9106 §3.1: p in 1..2^24-1, m >= 8*p KiB, t >= 1; a salt of 16 bytes is advised and
        # a tag under 16 bytes is too short to resist collisions, so anything less is refused.
        if time_cost < 1 or parallelism < 1 or memory_cost_kib < 8 * parallelism:
            raise ConfigurationError(
                "argon2 needs time_cost >= 1, parallelism >= 1 and memory_cost_kib >= 8 * lanes"
            )
        if salt_len < 16 or hash_len < 16:
            raise ConfigurationError("argon2 salt and hash must be at least 16 bytes")
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=argon2.Type.ID,
        )
        # A well-formed hash with these parameters and an all-zero salt and tag: verifying
        # against it runs the full Argon2 computation, and no password can ever match it.
        self._dummy_hash = (
            f"$argon2id$v={argon2.low_level.ARGON2_VERSION}"
            f"$m={memory_cost_kib},t={time_cost},p={parallelism}"
            f"${_b64(bytes(salt_len))}${_b64(bytes(hash_len))}"
        )

    @property
    def dummy_hash(self) -> str:
        """The never-matching hash `verify_dummy` checks against (same parameters as `hash`)."""
        return self._dummy_hash

    async def hash(self, *, password: str) -> str:
        """Return an `$argon2id$...` hash of the NFKC form of the password."""
        prepared = _prepare(password)
        if prepared is None:
            raise InvalidInput("password", f"must be at most {PASSWORD_MAX_LENGTH} characters")
        return await asyncio.to_thread(self._hasher.hash, prepared)

    async def verify(self, *, password: str, password_hash: str) -> bool:
        """Return whether the password matches the hash; False for a mismatch or a corrupt hash."""
        prepared = _prepare(password)
        if prepared is None or not isinstance(password_hash, str):
            return False
        return await asyncio.to_thread(self._verify, password_hash, prepared)

    def needs_rehash(self, *, password_hash: str) -> bool:
        """Return whether the hash used other parameters (or is unreadable) and should be redone."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    async def verify_dummy(self, *, password: str) -> None:
        """Verify against a fixed hash with the same parameters, to cost what a real check costs."""
        prepared = _prepare(password)
        await asyncio.to_thread(
            self._verify, self._dummy_hash, prepared if prepared is not None else ""
        )

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            # A stored hash we cannot read is a data problem, not a reason to let anyone in.
            return False


def _b64(raw: bytes) -> str:
    # The PHC string format uses standard base64 without padding.
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _prepare(password: object) -> str | None:
    if not isinstance(password, str):
        raise InvalidInput("password", "must be a string")
    normalized = normalize_password(password)
    # Over-long input is never a valid password; refusing it early bounds the work per attempt.
    return normalized if len(normalized) <= PASSWORD_MAX_LENGTH else None
