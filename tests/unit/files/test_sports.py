"""Sport mapping: FIT numbers and free-text names to the core Sport, never an error."""

from __future__ import annotations

import pytest
from garmin_fit_sdk import Profile

from training_analyzer.adapters.files.sports import (
    FIT_SPORT_NAMES,
    FIT_SUB_SPORT_NAMES,
    fit_sport_name,
    fit_sub_sport_name,
    sport_from_fit,
    sport_from_name,
)
from training_analyzer.core.activities import Sport

# FIT profile numbers (Profile.xlsx, types "sport" and "sub_sport").
RUNNING, CYCLING, SWIMMING, FITNESS, TRAINING, WALKING, ROWING = 1, 2, 5, 4, 10, 11, 15


@pytest.mark.parametrize(
    ("sport", "sub_sport", "expected"),
    [
        (RUNNING, 0, Sport.RUN),
        (RUNNING, 3, Sport.TRAIL_RUN),
        (RUNNING, 1, Sport.TREADMILL_RUN),
        (RUNNING, 45, Sport.TREADMILL_RUN),
        (RUNNING, 4, Sport.TRACK_RUN),
        (CYCLING, 0, Sport.RIDE),
        (CYCLING, 48, Sport.RIDE),  # commuting
        (CYCLING, 6, Sport.VIRTUAL_RIDE),
        (CYCLING, 58, Sport.VIRTUAL_RIDE),
        (CYCLING, 8, Sport.MOUNTAIN_BIKE),
        (CYCLING, 46, Sport.GRAVEL_RIDE),
        (21, 0, Sport.E_BIKE_RIDE),
        (SWIMMING, 17, Sport.SWIM),
        (SWIMMING, 18, Sport.OPEN_WATER_SWIM),
        (WALKING, 0, Sport.WALK),
        (17, 0, Sport.HIKE),
        (ROWING, 14, Sport.INDOOR_ROW),
        (ROWING, 0, Sport.ROW),
        (FITNESS, 14, Sport.INDOOR_ROW),
        (FITNESS, 1, Sport.TREADMILL_RUN),
        (TRAINING, 20, Sport.STRENGTH),
        (TRAINING, 43, Sport.YOGA),
        (TRAINING, 26, Sport.OTHER),  # cardio
        (12, 0, Sport.NORDIC_SKI),
        (13, 0, Sport.ALPINE_SKI),
        (3, 34, Sport.OTHER),  # transition
        (0, 0, Sport.OTHER),  # generic
        (41, 0, Sport.OTHER),  # kayaking: no paddle sport in the core
        (250, 250, Sport.OTHER),
        (None, None, Sport.OTHER),
        (RUNNING, None, Sport.RUN),
    ],
)
def test_fit_sport_pairs_map_leniently(
    sport: int | None, sub_sport: int | None, expected: Sport
) -> None:
    assert sport_from_fit(sport=sport, sub_sport=sub_sport) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Running", Sport.RUN),
        ("Biking", Sport.RIDE),
        ("Other", Sport.OTHER),
        ("cycling", Sport.RIDE),
        ("road_biking", Sport.RIDE),
        ("VirtualRide", Sport.VIRTUAL_RIDE),
        ("indoor cycling", Sport.VIRTUAL_RIDE),
        ("mountain_biking", Sport.MOUNTAIN_BIKE),
        ("MTB", Sport.MOUNTAIN_BIKE),
        ("gravel_cycling", Sport.GRAVEL_RIDE),
        ("EBikeRide", Sport.E_BIKE_RIDE),
        ("trail_running", Sport.TRAIL_RUN),
        ("treadmill_running", Sport.TREADMILL_RUN),
        ("open_water_swimming", Sport.OPEN_WATER_SWIM),
        ("lap_swimming", Sport.SWIM),
        ("walking", Sport.WALK),
        ("hiking", Sport.HIKE),
        ("indoor_rowing", Sport.INDOOR_ROW),
        ("rowing", Sport.ROW),
        ("cross_country_skiing", Sport.NORDIC_SKI),
        ("NordicSki", Sport.NORDIC_SKI),
        ("resort_skiing_snowboarding", Sport.ALPINE_SKI),
        ("strength_training", Sport.STRENGTH),
        ("yoga", Sport.YOGA),
        ("kayaking", Sport.OTHER),
        ("", Sport.OTHER),
        (None, Sport.OTHER),
        ("9", Sport.OTHER),
    ],
)
def test_free_text_sport_names_map_leniently(name: str | None, expected: Sport) -> None:
    assert sport_from_name(name) is expected


def test_fit_sport_names_agree_with_the_fit_profile() -> None:
    sports = Profile["types"]["sport"]
    sub_sports = Profile["types"]["sub_sport"]
    assert {k: sports[k] for k in FIT_SPORT_NAMES} == FIT_SPORT_NAMES
    assert {k: sub_sports[k] for k in FIT_SUB_SPORT_NAMES} == FIT_SUB_SPORT_NAMES


def test_unnamed_fit_numbers_keep_their_number() -> None:
    assert fit_sport_name(200) == "sport_200"
    assert fit_sub_sport_name(200) == "sub_sport_200"
    assert fit_sport_name(None) is None
