"""Argument checks shared by the core: each raises InvalidInput naming the argument."""

from __future__ import annotations

import math
from collections.abc import Sequence

from training_analyzer.core.errors import InvalidInput


def finite(name: str, value: float) -> float:
    """Return `value` if it is a finite number, else raise InvalidInput naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(name, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidInput(name, f"must be a finite number, got {value!r}")
    return float(value)


def positive(name: str, value: float) -> float:
    """Return `value` if it is finite and > 0."""
    v = finite(name, value)
    if v <= 0:
        raise InvalidInput(name, f"must be > 0, got {value!r}")
    return v


def non_negative(name: str, value: float) -> float:
    """Return `value` if it is finite and >= 0."""
    v = finite(name, value)
    if v < 0:
        raise InvalidInput(name, f"must be >= 0, got {value!r}")
    return v


def in_range(name: str, value: float, low: float, high: float) -> float:
    """Return `value` if it is finite and low <= value <= high."""
    v = finite(name, value)
    if not low <= v <= high:
        raise InvalidInput(name, f"must be between {low} and {high}, got {value!r}")
    return v


def finite_samples(name: str, values: Sequence[float | None]) -> None:
    """Raise InvalidInput if any present sample is NaN or infinite (None marks a missing sample)."""
    for i, v in enumerate(values):
        if v is not None and not math.isfinite(v):
            raise InvalidInput(name, f"sample {i} is not a finite number ({v!r})")


def same_length(names: Sequence[str], *seqs: Sequence[object]) -> None:
    """Raise InvalidInput if the sequences differ in length."""
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise InvalidInput(
            names[0], f"streams {', '.join(names)} must have equal length, got {sorted(lengths)}"
        )
