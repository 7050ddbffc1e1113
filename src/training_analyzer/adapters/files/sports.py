"""Lenient sport mapping: FIT sport/sub-sport numbers and free-text names -> core `Sport`.

Nothing here raises: a sport we do not know becomes `Sport.OTHER`, and the decoders keep the
source's own words beside it (`ParsedActivity.sport_name`, `sub_sport`). docs/files.md has the
table.
"""

from __future__ import annotations

import re

from training_analyzer.core.activities import Sport

# FIT profile `sport` enum (FIT SDK Profile.xlsx, type "sport"), the values we name.
FIT_SPORT_NAMES: dict[int, str] = {
    0: "generic",
    1: "running",
    2: "cycling",
    3: "transition",
    4: "fitness_equipment",
    5: "swimming",
    6: "basketball",
    7: "soccer",
    8: "tennis",
    9: "american_football",
    10: "training",
    11: "walking",
    12: "cross_country_skiing",
    13: "alpine_skiing",
    14: "snowboarding",
    15: "rowing",
    16: "mountaineering",
    17: "hiking",
    18: "multisport",
    19: "paddling",
    20: "flying",
    21: "e_biking",
    22: "motorcycling",
    23: "boating",
    24: "driving",
    25: "golf",
    26: "hang_gliding",
    27: "horseback_riding",
    28: "hunting",
    29: "fishing",
    30: "inline_skating",
    31: "rock_climbing",
    32: "sailing",
    33: "ice_skating",
    34: "sky_diving",
    35: "snowshoeing",
    36: "snowmobiling",
    37: "stand_up_paddleboarding",
    38: "surfing",
    39: "wakeboarding",
    40: "water_skiing",
    41: "kayaking",
    42: "rafting",
    43: "windsurfing",
    44: "kitesurfing",
    47: "boxing",
    48: "floor_climbing",
    62: "hiit",
    88: "canoeing",
}

# FIT profile `sub_sport` enum, the values the mapping looks at or that are common.
FIT_SUB_SPORT_NAMES: dict[int, str] = {
    0: "generic",
    1: "treadmill",
    2: "street",
    3: "trail",
    4: "track",
    5: "spin",
    6: "indoor_cycling",
    7: "road",
    8: "mountain",
    9: "downhill",
    10: "recumbent",
    11: "cyclocross",
    12: "hand_cycling",
    13: "track_cycling",
    14: "indoor_rowing",
    15: "elliptical",
    16: "stair_climbing",
    17: "lap_swimming",
    18: "open_water",
    19: "flexibility_training",
    20: "strength_training",
    21: "warm_up",
    26: "cardio_training",
    27: "indoor_walking",
    28: "e_bike_fitness",
    29: "bmx",
    30: "casual_walking",
    31: "speed_walking",
    32: "bike_to_run_transition",
    33: "run_to_bike_transition",
    34: "swim_to_bike_transition",
    42: "skate_skiing",
    43: "yoga",
    44: "pilates",
    45: "indoor_running",
    46: "gravel_cycling",
    47: "e_bike_mountain",
    48: "commuting",
    49: "mixed_surface",
    58: "virtual_activity",
    67: "ultra",
    78: "triathlon",
    79: "duathlon",
    80: "brick",
    81: "swim_run",
}

_RUN, _CYCLING, _FITNESS_EQUIPMENT, _SWIMMING, _TRAINING = 1, 2, 4, 5, 10
_ROWING, _E_BIKING = 15, 21

# Sports mapped whatever the sub-sport says.
_FIT_SPORT: dict[int, Sport] = {
    11: Sport.WALK,
    12: Sport.NORDIC_SKI,
    13: Sport.ALPINE_SKI,
    14: Sport.ALPINE_SKI,  # snowboarding: the closest member (family ski)
    16: Sport.HIKE,  # mountaineering
    17: Sport.HIKE,
    35: Sport.HIKE,  # snowshoeing
    _E_BIKING: Sport.E_BIKE_RIDE,
}

# Sub-sports that decide the sport of fitness equipment and training sessions.
_FIT_SUB_SPORT: dict[int, Sport] = {
    1: Sport.TREADMILL_RUN,
    45: Sport.TREADMILL_RUN,
    5: Sport.VIRTUAL_RIDE,  # spin: indoor cycling, the closest member
    6: Sport.VIRTUAL_RIDE,  # indoor_cycling
    58: Sport.VIRTUAL_RIDE,  # virtual_activity
    14: Sport.INDOOR_ROW,
    20: Sport.STRENGTH,
    43: Sport.YOGA,
}

_RUN_SUB: dict[int, Sport] = {
    1: Sport.TREADMILL_RUN,
    3: Sport.TRAIL_RUN,
    4: Sport.TRACK_RUN,
    45: Sport.TREADMILL_RUN,
}
_CYCLING_SUB: dict[int, Sport] = {
    8: Sport.MOUNTAIN_BIKE,
    9: Sport.MOUNTAIN_BIKE,
    11: Sport.GRAVEL_RIDE,
    46: Sport.GRAVEL_RIDE,
    28: Sport.E_BIKE_RIDE,
    47: Sport.E_BIKE_RIDE,
    5: Sport.VIRTUAL_RIDE,  # spin
    6: Sport.VIRTUAL_RIDE,  # indoor_cycling: the only indoor ride member
    58: Sport.VIRTUAL_RIDE,  # virtual_activity
}


def fit_sport_name(sport: int | None) -> str | None:
    """The FIT profile name of a sport number ("sport_<n>" for numbers we do not name)."""
    if sport is None:
        return None
    return FIT_SPORT_NAMES.get(sport, f"sport_{sport}")


def fit_sub_sport_name(sub_sport: int | None) -> str | None:
    """The FIT profile name of a sub-sport number ("sub_sport_<n>" for unnamed numbers)."""
    if sub_sport is None:
        return None
    return FIT_SUB_SPORT_NAMES.get(sub_sport, f"sub_sport_{sub_sport}")


def _pick(table: dict[int, Sport], sub_sport: int | None, default: Sport) -> Sport:
    return default if sub_sport is None else table.get(sub_sport, default)


def sport_from_fit(*, sport: int | None, sub_sport: int | None) -> Sport:
    """Map a FIT (sport, sub_sport) pair to a core Sport; unknown pairs give OTHER."""
    if sport is None:
        return Sport.OTHER
    if sport in _FIT_SPORT:
        return _FIT_SPORT[sport]
    if sport == _RUN:
        return _pick(_RUN_SUB, sub_sport, Sport.RUN)
    if sport == _CYCLING:
        return _pick(_CYCLING_SUB, sub_sport, Sport.RIDE)
    if sport == _SWIMMING:
        return Sport.OPEN_WATER_SWIM if sub_sport == 18 else Sport.SWIM
    if sport == _ROWING:
        return Sport.INDOOR_ROW if sub_sport == 14 else Sport.ROW
    if sport in (_FITNESS_EQUIPMENT, _TRAINING):
        return _pick(_FIT_SUB_SPORT, sub_sport, Sport.OTHER)
    return Sport.OTHER


# Free-text names (GPX <type>, TCX Sport attribute, Strava/Garmin exports): the first rule
# whose pattern matches the normalised name wins, so specific rules come before general ones.
_NAME_RULES: tuple[tuple[re.Pattern[str], Sport], ...] = tuple(
    (re.compile(pattern), sport)
    for pattern, sport in (
        (
            r"virtual_?(ride|cycl|bik)|indoor_?(cycl|bik|ride)|zwift|trainer|spin",
            Sport.VIRTUAL_RIDE,
        ),
        (r"e_?bik|ebike|e_?mountain", Sport.E_BIKE_RIDE),
        (r"mountain_?bik|mtb|mountain_?ride|downhill", Sport.MOUNTAIN_BIKE),
        (r"gravel|cyclocross", Sport.GRAVEL_RIDE),
        (r"treadmill|indoor_?run|virtual_?run", Sport.TREADMILL_RUN),
        (r"trail_?run", Sport.TRAIL_RUN),
        (r"track_?run", Sport.TRACK_RUN),
        (r"open_?water", Sport.OPEN_WATER_SWIM),
        (r"indoor_?row|rowing_?machine|ergometer|concept_?2", Sport.INDOOR_ROW),
        (
            r"nordic|cross_?country_?ski|xc_?ski|backcountry_?ski|skate_?ski|roller_?ski",
            Sport.NORDIC_SKI,
        ),
        (r"alpine|downhill_?ski|snowboard|^ski", Sport.ALPINE_SKI),
        (r"strength|weight|crossfit", Sport.STRENGTH),
        (r"yoga", Sport.YOGA),
        (r"hik|mountaineer|snowshoe", Sport.HIKE),
        (r"run|jog", Sport.RUN),
        (r"bik|cycl|ride|velo", Sport.RIDE),
        (r"swim", Sport.SWIM),
        (r"walk", Sport.WALK),
        (r"row", Sport.ROW),
    )
)


def sport_from_name(name: str | None) -> Sport:
    """Map a free-text sport name ("Running", "road_biking", "VirtualRide") to a core Sport."""
    if not name:
        return Sport.OTHER
    # CamelCase -> snake_case, then spaces and dashes -> underscores, so "VirtualRide",
    # "virtual ride" and "virtual-ride" all read "virtual_ride".
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name.strip())
    text = re.sub(r"[\s\-]+", "_", text).lower()
    for pattern, sport in _NAME_RULES:
        if pattern.search(text):
            return sport
    return Sport.OTHER
