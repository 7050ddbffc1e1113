"""Training-load analysis: bands at their thresholds, rules, risk, hand-computed PMC values.

Hand computations use the PMC of ARCHITECTURE.md section 7a: CTL_d = CTL_{d-1} + (1 - e^(-1/42))
(L_d - CTL_{d-1}), ATL likewise with 7, TSB of a day = CTL - ATL of the day before. For a
constant load L from a zero start, CTL after n days is L (1 - e^(-n/42)).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.analysis import (
    RULES,
    AcwrZone,
    FormStatus,
    LoadIndicators,
    RiskLevel,
    Severity,
    acwr_risk,
    acwr_zone,
    analyse_training_load,
    form_status,
    load_indicators,
    ramp_risk,
    recommendations,
    rule,
)
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.load import pmc

DOCS = Path(__file__).resolve().parents[3] / "docs" / "analytics.md"


def indicators(**changes: object) -> LoadIndicators:
    """A calm, established athlete: every rule quiet except the neutral form band."""
    base = LoadIndicators(
        ctl=60.0,
        atl=60.0,
        tsb=0.0,
        ramp_rate=1.0,
        acwr=1.0,
        acwr_rolling=1.0,
        monotony=1.2,
        strain=500.0,
        flat_week=False,
        week_load=420.0,
        history_days=365,
        established=True,
    )
    return msgspec.structs.replace(base, **changes)


def fired(**changes: object) -> set[str]:
    return {r.rule for r in recommendations(indicators=indicators(**changes))}


# Bands -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tsb", "status"),
    [
        # intervals.icu fitness chart: transition > +25, fresh +5..+25, grey -10..+5,
        # optimal -30..-10, high risk < -30; a value on a boundary belongs to the band above.
        (25.0, FormStatus.TRANSITION),
        (24.999, FormStatus.FRESH),
        (5.0, FormStatus.FRESH),
        (4.999, FormStatus.NEUTRAL),
        (-10.0, FormStatus.NEUTRAL),
        (-10.001, FormStatus.OPTIMAL),
        (-30.0, FormStatus.OPTIMAL),
        (-30.001, FormStatus.OVERREACHING),
    ],
)
def test_form_bands_put_a_boundary_value_in_the_band_above(tsb: float, status: FormStatus) -> None:
    assert form_status(tsb=tsb) is status


@pytest.mark.parametrize(
    ("ramp", "risk"),
    [
        # Friel (2015): 5-8 CTL/week suits most athletes; 8 and above is our "high".
        (8.0, RiskLevel.HIGH),
        (7.999, RiskLevel.MEDIUM),
        (5.0, RiskLevel.MEDIUM),
        (4.999, RiskLevel.LOW),
        (-12.0, RiskLevel.LOW),
    ],
)
def test_ramp_rate_risk_bands(ramp: float, risk: RiskLevel) -> None:
    assert ramp_risk(ramp_rate=ramp) is risk


@pytest.mark.parametrize(
    ("ratio", "zone", "risk"),
    [
        # Gabbett (2016): sweet spot 0.8-1.3, danger zone from 1.5.
        (1.5, AcwrZone.DANGER, RiskLevel.HIGH),
        (1.4999, AcwrZone.CAUTION, RiskLevel.MEDIUM),
        (1.3, AcwrZone.CAUTION, RiskLevel.MEDIUM),
        (1.2999, AcwrZone.SWEET_SPOT, RiskLevel.LOW),
        (0.8, AcwrZone.SWEET_SPOT, RiskLevel.LOW),
        (0.7999, AcwrZone.UNDERLOADED, RiskLevel.LOW),
        (0.0, AcwrZone.UNDERLOADED, RiskLevel.LOW),
    ],
)
def test_acwr_bands_and_their_risk(ratio: float, zone: AcwrZone, risk: RiskLevel) -> None:
    assert acwr_zone(acwr=ratio) is zone
    assert acwr_risk(acwr=ratio) is risk


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_bands_reject_non_finite_values_naming_the_argument(bad: float) -> None:
    with pytest.raises(InvalidInput) as tsb_error:
        form_status(tsb=bad)
    assert tsb_error.value.argument == "tsb"
    with pytest.raises(InvalidInput) as ramp_error:
        ramp_risk(ramp_rate=bad)
    assert ramp_error.value.argument == "ramp_rate"


def test_a_negative_acwr_is_impossible() -> None:
    with pytest.raises(InvalidInput) as error:
        acwr_zone(acwr=-0.1)
    assert error.value.argument == "acwr"


# Each rule fires at its threshold and not just below it ----------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "at", "below"),
    [
        ("ramp_high", {"ramp_rate": 8.0}, {"ramp_rate": 7.999}),
        ("ramp_building", {"ramp_rate": 5.0}, {"ramp_rate": 4.999}),
        ("acwr_spike", {"acwr": 1.5}, {"acwr": 1.4999}),
        ("acwr_elevated", {"acwr": 1.3}, {"acwr": 1.2999}),
        # acwr_low fires *below* 0.8: at 0.7999 it fires, at 0.8 it is quiet.
        ("acwr_low", {"acwr": 0.7999}, {"acwr": 0.8}),
        ("form_transition", {"tsb": 25.0}, {"tsb": 24.999}),
        ("form_fresh", {"tsb": 5.0}, {"tsb": 4.999}),
        ("form_neutral", {"tsb": -10.0}, {"tsb": -10.001}),
        ("form_optimal", {"tsb": -30.0}, {"tsb": -30.001}),
        ("form_overreaching", {"tsb": -30.001}, {"tsb": -30.0}),
        ("monotony_high", {"monotony": 2.0}, {"monotony": 1.999}),
        ("short_history", {"established": False, "history_days": 41}, {"established": True}),
    ],
)
def test_each_rule_fires_at_its_threshold_and_not_just_below(
    rule_id: str, at: dict[str, object], below: dict[str, object]
) -> None:
    assert rule_id in fired(**at)
    assert rule_id not in fired(**below)


def test_ramp_building_gives_way_to_ramp_high_at_eight() -> None:
    assert fired(ramp_rate=8.0) & {"ramp_high", "ramp_building"} == {"ramp_high"}


def test_a_flat_non_zero_week_warns_about_monotony_although_monotony_is_undefined() -> None:
    # Foster's monotony is mean / SD: identical loads have SD 0, the most monotonous week.
    advice = recommendations(indicators=indicators(monotony=None, flat_week=True))
    monotony = [r for r in advice if r.rule == "monotony_high"]
    assert len(monotony) == 1
    assert "same load every day" in monotony[0].message


def test_without_acwr_no_acwr_rule_fires() -> None:
    assert not fired(acwr=None) & {"acwr_spike", "acwr_elevated", "acwr_low"}


def test_short_history_holds_back_ramp_and_overreaching_warnings() -> None:
    quiet = fired(established=False, history_days=20, ramp_rate=15.0, tsb=-45.0)
    assert "short_history" in quiet
    assert not quiet & {"ramp_high", "ramp_building", "form_overreaching"}
    loud = fired(ramp_rate=15.0, tsb=-45.0)
    assert {"ramp_high", "form_overreaching"} <= loud


def test_recommendations_put_warnings_first_then_follow_the_rule_table() -> None:
    advice = recommendations(
        indicators=indicators(ramp_rate=9.0, acwr=1.6, tsb=-35.0, monotony=2.5)
    )
    assert [r.rule for r in advice] == [
        "ramp_high",
        "acwr_spike",
        "form_overreaching",
        "monotony_high",
    ]
    assert [r.severity for r in advice] == [
        Severity.WARNING,
        Severity.WARNING,
        Severity.WARNING,
        Severity.ADVICE,
    ]


def test_messages_quote_the_athletes_numbers() -> None:
    advice = {r.rule: r.message for r in recommendations(indicators=indicators(ramp_rate=9.26))}
    assert "9.3 points" in advice["ramp_high"]
    assert "Form is +0" in advice["form_neutral"]


# From a PMC series ---------------------------------------------------------------------------


def test_indicators_of_a_steady_load_match_the_closed_form() -> None:
    # 70 days at 100: CTL = 100 (1 - e^(-70/42)) = 81.1124; ramp = CTL_70 - CTL_63
    # = 100 (e^(-63/42) - e^(-70/42)) = 100 (0.2231302 - 0.1888756) = 3.4255;
    # ATL = 100 (1 - e^(-10)) = 99.9955.
    result = load_indicators(pmc=pmc(daily_loads=[100.0] * 70))
    assert result is not None
    assert result.ctl == pytest.approx(100 * (1 - math.exp(-70 / 42)), rel=1e-12)
    assert result.ctl == pytest.approx(81.1124, abs=1e-4)
    assert result.ramp_rate == pytest.approx(3.4255, abs=1e-4)
    assert result.atl == pytest.approx(99.9955, abs=1e-4)
    # previous-day TSB: CTL_69 - ATL_69
    assert result.tsb == pytest.approx(
        100 * (1 - math.exp(-69 / 42)) - 100 * (1 - math.exp(-69 / 7)), rel=1e-12
    )
    assert result.history_days == 70
    assert result.established is True
    assert result.week_load == 700.0
    # A steady week has SD 0: no monotony value, but a flat week.
    assert result.monotony is None
    assert result.flat_week is True


def test_acwr_of_28_steady_days_is_one_rolling_and_1_156_by_ewma() -> None:
    # Rolling (Hulin/Gabbett): 7-day sum / (28-day sum / 4) = 1 for a steady load.
    # EWMA (Williams et al. 2017, lambda = 2/(N+1)) from a zero start after 28 days:
    # acute = L (1 - (3/4)^28), chronic = L (1 - (27/29)^28) -> 0.999683 / 0.864781 = 1.15600.
    result = load_indicators(pmc=pmc(daily_loads=[50.0] * 28))
    assert result is not None
    assert result.acwr_rolling == pytest.approx(1.0)
    expected = (1 - 0.75**28) / (1 - (27 / 29) ** 28)
    assert result.acwr == pytest.approx(expected, rel=1e-12)
    assert result.acwr == pytest.approx(1.1560, abs=1e-4)


def test_acwr_is_absent_before_28_days() -> None:
    result = load_indicators(pmc=pmc(daily_loads=[50.0] * 27))
    assert result is not None
    assert result.acwr is None
    assert result.acwr_rolling is None


def test_monotony_of_runalyzes_published_week() -> None:
    # Runalyze tests (metrics reference 3.5): [5,15,20,20,20,25,35] -> mean 20, population SD
    # sqrt(500/7) = 8.4515, monotony 2.3664; strain = 140 x 2.3664 = 331.30.
    result = load_indicators(pmc=pmc(daily_loads=[5.0, 15, 20, 20, 20, 25, 35]))
    assert result is not None
    assert result.monotony == pytest.approx(20 / math.sqrt(500 / 7), rel=1e-12)
    assert result.monotony == pytest.approx(2.3664, abs=1e-4)
    assert result.strain == pytest.approx(140 * 20 / math.sqrt(500 / 7), rel=1e-12)
    assert "monotony_high" in {r.rule for r in recommendations(indicators=result)}  # 2.37 >= 2.0


def test_the_other_runalyze_week_is_below_the_monotony_threshold() -> None:
    # [0,20,10,10,10,10,10]: mean 10, SD sqrt(200/7) -> monotony 1.8708 < 2.0.
    result = load_indicators(pmc=pmc(daily_loads=[0.0, 20, 10, 10, 10, 10, 10]))
    assert result is not None
    assert result.monotony == pytest.approx(10 / math.sqrt(200 / 7), rel=1e-12)
    assert "monotony_high" not in {r.rule for r in recommendations(indicators=result)}


def test_a_week_of_rest_has_no_monotony_and_no_warning() -> None:
    result = load_indicators(pmc=pmc(daily_loads=[40.0] * 30 + [0.0] * 7))
    assert result is not None
    assert result.monotony is None
    assert result.flat_week is False
    assert "monotony_high" not in {r.rule for r in recommendations(indicators=result)}


def test_history_counts_from_the_first_day_with_load() -> None:
    # 10 empty days then 41 days at 150: history 41 days, not established. With 42 days the
    # ramp is 150 (e^(-35/42) - e^(-1)) = 10.0 and ramp_high fires.
    young = analyse_training_load(pmc=pmc(daily_loads=[0.0] * 10 + [150.0] * 41))
    assert young is not None
    assert young.indicators.history_days == 41
    assert young.indicators.established is False
    assert young.ramp_risk is None
    assert "ramp_high" not in young.risk_factors
    assert young.recommendations[-1].rule != "ramp_high"
    grown = analyse_training_load(pmc=pmc(daily_loads=[0.0] * 10 + [150.0] * 42))
    assert grown is not None
    assert grown.indicators.established is True
    assert grown.indicators.ramp_rate == pytest.approx(
        150 * (math.exp(-35 / 42) - math.exp(-1)), rel=1e-9
    )
    assert grown.ramp_risk is RiskLevel.HIGH
    assert "ramp_high" in grown.risk_factors


def test_a_seeded_series_counts_as_established_history() -> None:
    series = pmc(daily_loads=[60.0] * 10, initial_ctl=55.0, initial_atl=58.0)
    seeded = load_indicators(pmc=series, initial_ctl=55.0)
    assert seeded is not None
    assert seeded.established is True
    # Ramp compares with the seed for the first 7 days: CTL_10 - CTL_3.
    assert seeded.ramp_rate == pytest.approx(series[-1].ctl - series[2].ctl, rel=1e-12)


def test_analysis_combines_the_risks_and_names_the_factors() -> None:
    # 60 steady days at 50, then a week of 150: a spike by every measure.
    result = analyse_training_load(pmc=pmc(daily_loads=[50.0] * 60 + [150.0] * 7))
    assert result is not None
    assert result.acwr_zone is AcwrZone.DANGER
    assert result.acwr_risk is RiskLevel.HIGH
    assert result.ramp_risk is RiskLevel.HIGH
    assert result.risk_level is RiskLevel.HIGH
    assert result.form is FormStatus.OVERREACHING
    assert set(result.risk_factors) == {"ramp_high", "acwr_spike", "form_overreaching"}


def test_a_steady_established_athlete_is_low_risk() -> None:
    result = analyse_training_load(pmc=pmc(daily_loads=[50.0] * 120))
    assert result is not None
    assert result.risk_level is RiskLevel.LOW
    assert result.risk_factors == ()
    assert result.form is FormStatus.NEUTRAL


def test_risk_is_unknown_when_nothing_can_be_assessed() -> None:
    result = analyse_training_load(pmc=pmc(daily_loads=[30.0] * 10))
    assert result is not None
    assert result.risk_level is None
    assert result.ramp_risk is None
    assert result.acwr_risk is None


def test_an_empty_series_has_no_analysis() -> None:
    assert analyse_training_load(pmc=[]) is None


def test_a_negative_initial_ctl_is_impossible() -> None:
    with pytest.raises(InvalidInput) as error:
        analyse_training_load(pmc=pmc(daily_loads=[1.0]), initial_ctl=-1.0)
    assert error.value.argument == "initial_ctl"


# The rules table -----------------------------------------------------------------------------


def test_every_rule_has_a_unique_id_a_condition_and_a_source() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.condition
        assert r.source
        assert rule(r.id) is r


def test_an_unknown_rule_id_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as error:
        rule("no_such_rule")
    assert error.value.argument == "rule_id"


def test_the_user_docs_document_every_rule() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", text))
    missing = {r.id for r in RULES} - documented
    assert not missing, f"docs/analytics.md does not mention {sorted(missing)}"


_finite = st.floats(min_value=-200, max_value=200, allow_nan=False)


@given(
    tsb=_finite,
    ramp=_finite,
    acwr=st.none() | st.floats(min_value=0, max_value=5),
    monotony=st.none() | st.floats(min_value=0, max_value=10),
    established=st.booleans(),
)
def test_rules_are_deterministic_known_and_ordered(
    tsb: float, ramp: float, acwr: float | None, monotony: float | None, established: bool
) -> None:
    state = indicators(
        tsb=tsb, ramp_rate=ramp, acwr=acwr, monotony=monotony, established=established
    )
    first = recommendations(indicators=state)
    assert first == recommendations(indicators=state)
    known = {r.id: r for r in RULES}
    assert all(r.rule in known and r.severity is known[r.rule].severity for r in first)
    order = {Severity.WARNING: 0, Severity.ADVICE: 1, Severity.INFO: 2}
    ranks = [order[r.severity] for r in first]
    assert ranks == sorted(ranks)
    form_rules = [r for r in first if r.rule.startswith("form_")]
    # exactly one form message, except a held-back overreaching warning
    assert len(form_rules) == (0 if tsb < -30 and not established else 1)
