"""Training zones (heart rate, power, pace, user-defined) and time spent in each zone.

Every zone is half-open, `[lower, upper)`: a value exactly on a boundary belongs to the upper
(harder) zone. Zone 1 starts at 0 and the last zone is open-ended, so every non-negative value
falls in exactly one zone. Pace zones are stored on speed (m/s), not on pace, so that "higher
value = harder zone" holds for every zone set; a pace exactly on a boundary therefore belongs to
the faster zone.

Published tables print integer-percent ranges ("85 % to 89 %") that leave gaps between zones;
each built-in set below keeps the printed lower bound of every zone as a continuous boundary.
Boundaries are computed as `reference * percent / 100` with integer percents, so a value the
user reads as "exactly 55 % of 250 W" (137.5 W) is compared with 137.5, not 137.50000000000003.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from itertools import compress, islice, pairwise, repeat
from operator import is_not
from typing import cast

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.validation import finite, finite_samples, positive


class ZoneUnit(StrEnum):
    """Unit of a zone set's boundaries."""

    BPM = "bpm"
    WATTS = "w"
    SPEED_M_S = "m_s"


class FrielSport(StrEnum):
    """Friel publishes different LTHR zones for running and for cycling."""

    RUN = "run"
    BIKE = "bike"


class Zone(msgspec.Struct, frozen=True, kw_only=True):
    """One zone, `[lower, upper)`; `upper` is None for the open-ended top zone."""

    name: str
    lower: float
    upper: float | None
    label: str = ""


class ZoneSet(msgspec.Struct, frozen=True, kw_only=True):
    """Contiguous zones from 0 upwards; `method` names the published scheme (or "custom")."""

    method: str
    unit: ZoneUnit
    zones: tuple[Zone, ...]

    def __post_init__(self) -> None:
        if len(self.zones) < 2:
            raise InvalidInput("zones", f"need at least 2 zones, got {len(self.zones)}")
        if self.zones[0].lower != 0.0:
            raise InvalidInput("zones", f"zone 1 must start at 0, got {self.zones[0].lower!r}")
        if self.zones[-1].upper is not None:
            raise InvalidInput("zones", "the last zone must be open-ended (upper=None)")
        for below, above in pairwise(self.zones):
            if below.upper != above.lower:
                raise InvalidInput("zones", f"{below.name} and {above.name} are not contiguous")
            if not (math.isfinite(above.lower) and above.lower > below.lower):
                raise InvalidInput("zones", f"{above.name} must start above {below.name}")

    @property
    def boundaries(self) -> tuple[float, ...]:
        """Lower bounds of zones 2..n (the n-1 inner edges), strictly increasing."""
        return tuple(z.lower for z in self.zones[1:])

    def zone_index(self, *, value: float) -> int:
        """0-based index of the zone holding `value` (a value on a boundary goes up)."""
        v = finite("value", value)
        if v < 0:
            raise InvalidInput("value", f"must be >= 0, got {value!r}")
        return bisect_right(self.boundaries, v)


def _zone_set(
    *,
    method: str,
    unit: ZoneUnit,
    boundaries: Sequence[float],
    names: Sequence[str],
    labels: Sequence[str] | None = None,
) -> ZoneSet:
    edges = [0.0, *boundaries]
    uppers: list[float | None] = [*boundaries, None]
    labels = labels if labels is not None else [""] * len(names)
    zones = tuple(
        Zone(name=n, lower=lo, upper=hi, label=lab)
        for n, lo, hi, lab in zip(names, edges, uppers, labels, strict=True)
    )
    return ZoneSet(method=method, unit=unit, zones=zones)


def _numbered(count: int) -> list[str]:
    return [f"Z{i}" for i in range(1, count + 1)]


# Edwards (1993), "The Heart Rate Monitor Book": five zones at 50-60-70-80-90-100 % of HR max.
# The 50 % floor marks where a training effect starts, not a zone edge, so zone 1 runs from 0.
EDWARDS_PERCENT_OF_MAX = (60, 70, 80, 90)

# Friel, "A Quick Guide to Setting Zones" (trainingbible.com, 2009; same tables in The
# Triathlete's Training Bible): lower bounds of zones 2, 3, 4, 5a, 5b, 5c in % of LTHR.
# Run: <85, 85-89, 90-94, 95-99, 100-102, 103-106, >106.  Bike: <81, 81-89, 90-93, 94-99, ...
FRIEL_RUN_PERCENT_OF_LTHR = (85, 90, 95, 100, 103, 106)
FRIEL_BIKE_PERCENT_OF_LTHR = (81, 90, 94, 100, 103, 106)
FRIEL_ZONE_NAMES = ("Z1", "Z2", "Z3", "Z4", "Z5a", "Z5b", "Z5c")

# Allen & Coggan, "Training and Racing with a Power Meter" (2nd ed., 2010), power levels in % of
# FTP: <=55, 56-75, 76-90, 91-105, 106-120, 121-150, >150.
COGGAN_PERCENT_OF_FTP = (55, 75, 90, 105, 120, 150)
COGGAN_LABELS = (
    "Active Recovery",
    "Endurance",
    "Tempo",
    "Lactate Threshold",
    "VO2max",
    "Anaerobic Capacity",
    "Neuromuscular Power",
)

# Friel (same guide) run pace zones in % of functional threshold pace (time per km, so larger is
# slower): Z1 slower than 129, Z2 114-129, Z3 106-113, Z4 99-105, Z5a 97-100, Z5b 90-96, Z5c
# faster than 90. Each zone's slowest printed pace becomes its lower speed bound; the 99-100 %
# overlap of Z4 and Z5a is resolved at 100 % (threshold pace itself is Z5a).
FRIEL_PACE_PERCENT_OF_THRESHOLD = (129, 113, 105, 100, 96, 90)


def hr_zones_percent_max(
    *, hr_max_bpm: float, percents: Sequence[int] = EDWARDS_PERCENT_OF_MAX
) -> ZoneSet:
    """Heart-rate zones at given percents of HR max (default Edwards 60/70/80/90 %)."""
    hr_max = positive("hr_max_bpm", hr_max_bpm)
    pcts = _percents("percents", percents)
    return _zone_set(
        method="percent_hr_max",
        unit=ZoneUnit.BPM,
        boundaries=[hr_max * p / 100 for p in pcts],
        names=_numbered(len(pcts) + 1),
    )


def hr_zones_karvonen(
    *,
    hr_max_bpm: float,
    hr_rest_bpm: float,
    percents: Sequence[int] = EDWARDS_PERCENT_OF_MAX,
) -> ZoneSet:
    """Karvonen zones: HR_rest + percent x (HR_max - HR_rest), the heart-rate reserve."""
    hr_max = positive("hr_max_bpm", hr_max_bpm)
    hr_rest = positive("hr_rest_bpm", hr_rest_bpm)
    if hr_max <= hr_rest:
        raise InvalidInput("hr_max_bpm", f"must exceed hr_rest_bpm ({hr_rest!r}), got {hr_max!r}")
    pcts = _percents("percents", percents)
    # Karvonen, Kentala & Mustala (1957): target HR = rest + fraction of the reserve.
    reserve = hr_max - hr_rest
    return _zone_set(
        method="karvonen",
        unit=ZoneUnit.BPM,
        boundaries=[hr_rest + reserve * p / 100 for p in pcts],
        names=_numbered(len(pcts) + 1),
    )


def hr_zones_friel(*, lthr_bpm: float, sport: FrielSport) -> ZoneSet:
    """Friel's seven LTHR zones (Z1..Z5c); running and cycling tables differ below threshold."""
    lthr = positive("lthr_bpm", lthr_bpm)
    pcts = FRIEL_RUN_PERCENT_OF_LTHR if sport is FrielSport.RUN else FRIEL_BIKE_PERCENT_OF_LTHR
    return _zone_set(
        method=f"friel_lthr_{sport.value}",
        unit=ZoneUnit.BPM,
        boundaries=[lthr * p / 100 for p in pcts],
        names=FRIEL_ZONE_NAMES,
    )


def power_zones_coggan(*, ftp_w: float) -> ZoneSet:
    """Coggan's seven power levels from FTP (boundaries 55/75/90/105/120/150 % of FTP)."""
    ftp = positive("ftp_w", ftp_w)
    return _zone_set(
        method="coggan_power",
        unit=ZoneUnit.WATTS,
        boundaries=[ftp * p / 100 for p in COGGAN_PERCENT_OF_FTP],
        names=_numbered(len(COGGAN_LABELS)),
        labels=COGGAN_LABELS,
    )


def pace_zones_friel(*, threshold_pace_s_per_km: float) -> ZoneSet:
    """Friel's seven run pace zones from threshold pace, as speed bounds in m/s."""
    pace = positive("threshold_pace_s_per_km", threshold_pace_s_per_km)
    # A zone edge at p % of threshold pace is the pace pace*p/100 s/km, i.e. 1000/that m/s.
    return _zone_set(
        method="friel_pace",
        unit=ZoneUnit.SPEED_M_S,
        boundaries=[100_000 / (pace * p) for p in FRIEL_PACE_PERCENT_OF_THRESHOLD],
        names=FRIEL_ZONE_NAMES,
    )


def custom_zones(
    *,
    boundaries: Sequence[float],
    unit: ZoneUnit,
    names: Sequence[str] | None = None,
) -> ZoneSet:
    """User-defined zones from the inner edges (lower bounds of zones 2..n), strictly increasing."""
    if len(boundaries) < 1:
        raise InvalidInput("boundaries", "need at least one boundary (two zones)")
    edges = [finite("boundaries", b) for b in boundaries]
    if edges[0] <= 0:
        raise InvalidInput("boundaries", f"must be > 0 (zone 1 starts at 0), got {edges[0]!r}")
    for i in range(1, len(edges)):
        if edges[i] <= edges[i - 1]:
            raise InvalidInput(
                "boundaries",
                f"must be strictly increasing, got {edges[i - 1]!r} then {edges[i]!r}",
            )
    if names is None:
        zone_names = _numbered(len(edges) + 1)
    else:
        zone_names = list(names)
        if len(zone_names) != len(edges) + 1:
            raise InvalidInput("names", f"need {len(edges) + 1} names for {len(edges)} boundaries")
    return _zone_set(method="custom", unit=unit, boundaries=edges, names=zone_names)


def time_in_zones(
    *,
    samples: Sequence[float | None],
    zones: ZoneSet,
    sample_interval_s: float = 1.0,
) -> list[float]:
    """Seconds spent in each zone of `zones` for a regularly sampled stream; None is skipped."""
    interval = positive("sample_interval_s", sample_interval_s)
    present = cast("list[float]", list(compress(samples, map(is_not, samples, repeat(None)))))
    counts = [0] * len(zones.zones)
    if not present:
        return [0.0] * len(counts)
    # One C-level sum catches NaN and infinities; only then walk the samples to name the culprit.
    if not math.isfinite(sum(present)):
        finite_samples("samples", samples)
    edges = zones.boundaries
    # Whole-number bpm and watts repeat a lot: counting distinct values first is cheaper than
    # sorting. Interpolated streams rarely repeat, so they are sorted and bisected instead.
    if len(set(islice(present, _DISTINCT_PROBE))) <= _DISTINCT_PROBE // 2:
        tally = Counter(present)
        _check_non_negative(min(tally))
        for value, n in tally.items():
            counts[bisect_right(edges, value)] += n
    else:
        present.sort()
        _check_non_negative(present[0])
        # bisect_left counts values strictly below an edge, so a value on an edge goes up.
        previous = 0
        for i, n_below in enumerate([*(bisect_left(present, e) for e in edges), len(present)]):
            counts[i] = n_below - previous
            previous = n_below
    return [c * interval for c in counts]


_DISTINCT_PROBE = 2048


def _check_non_negative(lowest: float) -> None:
    if lowest < 0:
        raise InvalidInput("samples", f"must be >= 0, got {lowest!r}")


def _percents(name: str, percents: Sequence[int]) -> list[int]:
    values = list(percents)
    if not values:
        raise InvalidInput(name, "need at least one percent (two zones)")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InvalidInput(name, f"percents must be positive integers, got {v!r}")
    for a, b in pairwise(values):
        if b <= a:
            raise InvalidInput(name, f"must be strictly increasing, got {a!r} then {b!r}")
    return values
