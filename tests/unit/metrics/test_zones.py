"""Zones: published boundaries, the half-open rule, user-defined edges and time in zone."""

from __future__ import annotations

import math
from bisect import bisect_right

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.zones import (
    FrielSport,
    Zone,
    ZoneSet,
    ZoneUnit,
    custom_zones,
    hr_zones_friel,
    hr_zones_karvonen,
    hr_zones_percent_max,
    pace_zones_friel,
    power_zones_coggan,
    time_in_zones,
)


def test_coggan_zones_at_ftp_250_have_the_published_boundaries() -> None:
    # Allen & Coggan, "Training and Racing with a Power Meter": levels at 55/75/90/105/120/150 %
    # of FTP; at 250 W that is 137.5, 187.5, 225, 262.5, 300 and 375 W.
    zones = power_zones_coggan(ftp_w=250)
    assert zones.boundaries == (137.5, 187.5, 225.0, 262.5, 300.0, 375.0)
    assert [z.name for z in zones.zones] == ["Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7"]
    assert zones.zones[3].label == "Lactate Threshold"
    assert zones.zones[0].lower == 0.0
    assert zones.zones[-1].upper is None
    assert zones.unit is ZoneUnit.WATTS


def test_a_value_on_a_boundary_belongs_to_the_upper_zone() -> None:
    zones = power_zones_coggan(ftp_w=250)
    assert zones.zone_index(value=137.5) == 1  # exactly 55 % of FTP: zone 2
    assert zones.zone_index(value=137.49) == 0
    assert zones.zone_index(value=375.0) == 6
    assert zones.zone_index(value=0.0) == 0
    assert zones.zone_index(value=2000.0) == 6


def test_friel_run_and_bike_lthr_zones_differ_as_published() -> None:
    # Friel, "A Quick Guide to Setting Zones" (2009): run zones start at 85/90/95/100/103/106 %
    # of LTHR, bike zones at 81/90/94/100/103/106 %.
    run = hr_zones_friel(lthr_bpm=170, sport=FrielSport.RUN)
    bike = hr_zones_friel(lthr_bpm=170, sport=FrielSport.BIKE)
    assert run.boundaries == pytest.approx((144.5, 153.0, 161.5, 170.0, 175.1, 180.2))
    assert bike.boundaries == pytest.approx((137.7, 153.0, 159.8, 170.0, 175.1, 180.2))
    assert [z.name for z in run.zones] == ["Z1", "Z2", "Z3", "Z4", "Z5a", "Z5b", "Z5c"]
    assert run.method == "friel_lthr_run"
    assert bike.method == "friel_lthr_bike"
    # 140 bpm is Z1 for running (< 85 %) but Z2 on the bike (>= 81 %).
    assert run.zone_index(value=140) == 0
    assert bike.zone_index(value=140) == 1


def test_percent_of_max_zones_default_to_edwards_60_70_80_90() -> None:
    # Edwards (1993): zones at 50-60-70-80-90-100 % of HR max; HR max 200 -> 120/140/160/180.
    zones = hr_zones_percent_max(hr_max_bpm=200)
    assert zones.boundaries == (120.0, 140.0, 160.0, 180.0)
    assert len(zones.zones) == 5


def test_karvonen_zones_are_fractions_of_the_heart_rate_reserve() -> None:
    # Karvonen et al. (1957): rest + f x (max - rest); 50 + f x 140 for f = .6/.7/.8/.9.
    zones = hr_zones_karvonen(hr_max_bpm=190, hr_rest_bpm=50)
    assert zones.boundaries == (134.0, 148.0, 162.0, 176.0)
    assert zones.method == "karvonen"


def test_karvonen_rejects_max_not_above_rest() -> None:
    with pytest.raises(InvalidInput) as err:
        hr_zones_karvonen(hr_max_bpm=60, hr_rest_bpm=60)
    assert err.value.argument == "hr_max_bpm"


def test_friel_pace_zones_are_speed_bounds_from_threshold_pace() -> None:
    # Friel's FTPa zones: Z2 from 129 %, Z3 113 %, Z4 105 %, Z5a 100 %, Z5b 96 %, Z5c 90 % of
    # threshold pace. At 250 s/km (4 m/s): Z5a starts at 4 m/s and Z5c at 4/0.9 m/s.
    zones = pace_zones_friel(threshold_pace_s_per_km=250)
    assert zones.unit is ZoneUnit.SPEED_M_S
    expected = [4 / 1.29, 4 / 1.13, 4 / 1.05, 4.0, 4 / 0.96, 4 / 0.90]
    assert zones.boundaries == pytest.approx(expected, rel=1e-12)
    assert zones.zone_index(value=4.0) == 4  # threshold pace itself is Z5a
    assert zones.zone_index(value=1000 / 320) == 1  # 320 s/km = 128 % of threshold: Z2
    assert zones.zone_index(value=1000 / 330) == 0  # 132 %: slower than 129 %, Z1


@pytest.mark.parametrize(
    ("boundaries", "reason"),
    [
        ([150.0, 140.0], "decreasing"),
        ([150.0, 150.0], "equal"),
        ([150.0, math.nan], "NaN"),
        ([150.0, math.inf], "infinite"),
        ([0.0, 100.0], "zone 1 would be empty"),
        ([], "no boundary"),
    ],
)
def test_custom_zones_reject_bad_boundaries(boundaries: list[float], reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        custom_zones(boundaries=boundaries, unit=ZoneUnit.BPM)
    assert err.value.argument == "boundaries", reason


def test_custom_zones_take_inner_edges_and_optional_names() -> None:
    zones = custom_zones(
        boundaries=[130, 150, 165], unit=ZoneUnit.BPM, names=["easy", "steady", "hard", "max"]
    )
    assert zones.zones == (
        Zone(name="easy", lower=0.0, upper=130.0),
        Zone(name="steady", lower=130.0, upper=150.0),
        Zone(name="hard", lower=150.0, upper=165.0),
        Zone(name="max", lower=165.0, upper=None),
    )
    with pytest.raises(InvalidInput) as err:
        custom_zones(boundaries=[130, 150], unit=ZoneUnit.BPM, names=["a", "b"])
    assert err.value.argument == "names"


def test_zone_set_rejects_gaps_between_zones() -> None:
    with pytest.raises(InvalidInput) as err:
        ZoneSet(
            method="custom",
            unit=ZoneUnit.WATTS,
            zones=(
                Zone(name="a", lower=0.0, upper=100.0),
                Zone(name="b", lower=110.0, upper=None),
            ),
        )
    assert err.value.argument == "zones"


def test_time_in_zones_counts_seconds_and_skips_missing_samples() -> None:
    zones = power_zones_coggan(ftp_w=250)
    samples: list[float | None] = [100, 137.5, None, 200, 250, 300, 400, None, 0]
    # 100 and 0 -> Z1; 137.5 -> Z2 (on the edge); 200 -> Z3; 250 -> Z4; 300 -> Z6 (on the
    # 300 W edge); 400 -> Z7.
    assert time_in_zones(samples=samples, zones=zones) == [2.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    assert time_in_zones(samples=samples, zones=zones, sample_interval_s=2) == [
        4.0,
        2.0,
        2.0,
        2.0,
        0.0,
        2.0,
        2.0,
    ]


def test_time_in_zones_of_no_present_samples_is_all_zero() -> None:
    zones = hr_zones_percent_max(hr_max_bpm=190)
    assert time_in_zones(samples=[None, None], zones=zones) == [0.0] * 5
    assert time_in_zones(samples=[], zones=zones) == [0.0] * 5


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_time_in_zones_rejects_impossible_samples(bad: float) -> None:
    zones = hr_zones_percent_max(hr_max_bpm=190)
    with pytest.raises(InvalidInput) as err:
        time_in_zones(samples=[120.0, None, bad], zones=zones)
    assert err.value.argument == "samples"


def test_time_in_zones_rejects_a_negative_sample_among_many_distinct_values() -> None:
    # Thousands of distinct readings take the sorting path rather than the counting one.
    samples: list[float | None] = [100 + i / 7 for i in range(3000)]
    samples.append(-0.5)
    with pytest.raises(InvalidInput) as err:
        time_in_zones(samples=samples, zones=power_zones_coggan(ftp_w=250))
    assert err.value.argument == "samples"


def _reference_time_in_zones(samples: list[float | None], edges: tuple[float, ...]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for v in samples:
        if v is None:
            continue
        zone = 0
        for edge in edges:
            if v >= edge:
                zone += 1
        counts[zone] += 1
    return counts


sample_values = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=450).map(float),  # whole watts: the counting path
    st.floats(min_value=0, max_value=450, allow_nan=False),  # interpolated: the sorting path
    st.sampled_from([137.5, 187.5, 225.0, 262.5, 300.0, 375.0]),  # exactly on an edge
)


@given(st.lists(sample_values, max_size=1500))
def test_time_in_zones_sums_to_the_present_samples_and_matches_a_plain_count(
    samples: list[float | None],
) -> None:
    zones = power_zones_coggan(ftp_w=250)
    seconds = time_in_zones(samples=samples, zones=zones)
    present = sum(v is not None for v in samples)
    assert sum(seconds) == present
    assert seconds == [float(c) for c in _reference_time_in_zones(samples, zones.boundaries)]


@given(
    st.lists(st.floats(min_value=1, max_value=300), min_size=1, max_size=8, unique=True),
    st.floats(min_value=0, max_value=400),
)
def test_custom_zone_index_puts_a_value_in_the_zone_whose_range_holds_it(
    edges: list[float], value: float
) -> None:
    zones = custom_zones(boundaries=sorted(edges), unit=ZoneUnit.WATTS)
    index = zones.zone_index(value=value)
    zone = zones.zones[index]
    assert zone.lower <= value
    assert zone.upper is None or value < zone.upper
    assert index == bisect_right(sorted(edges), value)
