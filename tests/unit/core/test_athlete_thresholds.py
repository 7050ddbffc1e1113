"""Threshold consistency: an LTHR outside (rest, max] is refused when saved, not at import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from training_analyzer.core.athletes import Thresholds, thresholds_on
from training_analyzer.core.errors import InvalidInput

DAY = date(2026, 1, 1)


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: Thresholds(effective_from=DAY, lthr_bpm=195.0, max_hr_bpm=190.0), "lthr_bpm"),
        (lambda: Thresholds(effective_from=DAY, lthr_bpm=50.0, rest_hr_bpm=55.0), "lthr_bpm"),
        (lambda: Thresholds(effective_from=DAY, lthr_bpm=55.0, rest_hr_bpm=55.0), "lthr_bpm"),
        (lambda: Thresholds(effective_from=DAY, max_hr_bpm=50.0, rest_hr_bpm=55.0), "max_hr_bpm"),
    ],
)
def test_contradicting_heart_rates_are_refused(
    make: Callable[[], Thresholds], argument: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        make()
    assert err.value.argument == argument


def test_lthr_equal_to_max_is_allowed() -> None:
    assert Thresholds(effective_from=DAY, lthr_bpm=190.0, max_hr_bpm=190.0).lthr_bpm == 190.0


def test_records_that_contradict_once_merged_are_refused() -> None:
    history = [
        Thresholds(effective_from=DAY, lthr_bpm=180.0),
        Thresholds(effective_from=date(2026, 2, 1), max_hr_bpm=175.0),
    ]
    assert thresholds_on(history, date(2026, 1, 15)) is not None
    with pytest.raises(InvalidInput) as err:
        thresholds_on(history, date(2026, 2, 2))
    assert err.value.argument == "lthr_bpm"
