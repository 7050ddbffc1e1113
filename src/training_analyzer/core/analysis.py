"""Training-load analysis: current CTL/ATL/TSB, ramp-rate and ACWR risk, form, recommendations.

Input is the performance-management series of `metrics.load.pmc` (one `PmcDay` per local day,
oldest first, the last one being today), computed from the athlete's first activity or at
least from 90 days back (the EWMA inside ACWR starts at 0 and needs that long to forget it).
Every band below is lower-inclusive: a value exactly on a threshold belongs to the band above
it, so each rule fires *at* its threshold (ARCHITECTURE.md section 7a uses the same rule for
zones).

Bands
-----
Ramp rate (CTL change over 7 days, CTL points per week; Friel, "The CTL ramp rate",
joefrielsblog.com, May 2015: 5-8 a week suits most athletes, about 10 is the upper limit;
Couzens, "CTL ramp rates, TSB floors & loading patterns", alancouzens.com, May 2015: 3-5 a
week is what holds over a season):

    ramp < 5 low  |  5 <= ramp < 8 medium  |  ramp >= 8 high

Not assessed while the history is shorter than 42 days (one CTL time constant) and the series
was not seeded: CTL starts at 0, so a new user's first weeks show a steep ramp that is an
artefact of the model, not of the training. For the same reason (ATL fills up within a week,
CTL takes six) a new user's TSB reads far more negative than their real form, so the
overreaching warning waits for an established history too; the band itself is still shown.

ACWR (acute:chronic workload ratio) from EWMAs of 7 and 28 days (Williams et al. 2017, Br J
Sports Med 51:209-210), with Gabbett's bands (Gabbett 2016, "The training-injury prevention
paradox", Br J Sports Med 50:273-280: 0.8-1.3 "sweet spot", >= 1.5 "danger zone"):

    < 0.8 underloaded (low risk)  |  0.8-1.3 sweet spot (low)  |  1.3-1.5 caution (medium)
    >= 1.5 danger (high)

Gabbett's bands come from team sports and rolling averages. The ratio has been criticised:
the coupled form correlates with its own chronic term (Lolli et al. 2019, Br J Sports Med
53:921-922) and the ratio adds little over the acute load itself (Impellizzeri et al. 2020,
IJSPP 15:907-913). It is reported as one signal among several, never alone.

Form (TSB), intervals.icu's fitness-chart bands (forum.intervals.icu, "Fitness page - a guide
to getting started"; TrainingPeaks/Friel use the same -10..-30 "productive" range):

    tsb >= 25 transition  |  5 <= tsb < 25 fresh  |  -10 <= tsb < 5 neutral (grey zone)
    -30 <= tsb < -10 optimal training  |  tsb < -30 overreaching (high risk)

Foster monotony over the last 7 days (Foster 1998, Med Sci Sports Exerc 30:1164-1168:
monotony above 2.0 preceded most illnesses): monotony >= 2.0 warns; a week of identical
non-zero loads has no standard deviation, so its monotony is undefined but maximal, and warns.

Rules
-----
=====================  ========  ==============================================  ===========
rule                   severity  fires when                                      source
=====================  ========  ==============================================  ===========
short_history          info      < 42 days since the first load, not seeded      CTL N = 42
ramp_high              warning   ramp >= 8 CTL/week (history established)        Friel 2015
ramp_building          advice    5 <= ramp < 8 (history established)             Friel 2015,
                                                                                 Couzens 2015
acwr_spike             warning   ACWR >= 1.5                                     Gabbett 2016
acwr_elevated          advice    1.3 <= ACWR < 1.5                               Gabbett 2016
acwr_low               info      ACWR < 0.8                                      Gabbett 2016
form_overreaching      warning   TSB < -30 (history established)                 intervals.icu
form_optimal           info      -30 <= TSB < -10                                intervals.icu
form_neutral           info      -10 <= TSB < 5                                  intervals.icu
form_fresh             info      5 <= TSB < 25                                   intervals.icu
form_transition        advice    TSB >= 25                                       intervals.icu
monotony_high          advice    monotony >= 2.0 or identical non-zero week      Foster 1998
=====================  ========  ==============================================  ===========

The overall `risk_level` is the highest of the ramp risk, the ACWR risk and "high" when form
is overreaching (with an established history); `risk_factors` names the rules that raised it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Final

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics import load as pmc_model
from training_analyzer.core.metrics.load import PmcDay
from training_analyzer.core.validation import finite, non_negative

RAMP_MEDIUM: Final = 5.0
RAMP_HIGH: Final = 8.0
ACWR_LOW: Final = 0.8
ACWR_CAUTION: Final = 1.3
ACWR_DANGER: Final = 1.5
TSB_TRANSITION: Final = 25.0
TSB_FRESH: Final = 5.0
TSB_NEUTRAL: Final = -10.0
TSB_OPTIMAL: Final = -30.0
MONOTONY_HIGH: Final = 2.0
# One CTL time constant: after 42 days of steady training CTL has reached 63 % of its steady
# value and the ramp from a zero start has mostly played out.
ESTABLISHED_HISTORY_DAYS: Final = pmc_model.CTL_DAYS


class RiskLevel(StrEnum):
    """How likely the current load pattern is to end in injury, illness or burnout."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FormStatus(StrEnum):
    """Band of TSB (form)."""

    TRANSITION = "transition"
    FRESH = "fresh"
    NEUTRAL = "neutral"
    OPTIMAL = "optimal"
    OVERREACHING = "overreaching"


class AcwrZone(StrEnum):
    """Band of the acute:chronic workload ratio."""

    UNDERLOADED = "underloaded"
    SWEET_SPOT = "sweet_spot"
    CAUTION = "caution"
    DANGER = "danger"


class Severity(StrEnum):
    """How much a recommendation asks of the athlete; warnings come first."""

    WARNING = "warning"
    ADVICE = "advice"
    INFO = "info"


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """One documented recommendation rule: its id, severity, condition and source."""

    id: str
    severity: Severity
    condition: str
    source: str


class Recommendation(msgspec.Struct, frozen=True, kw_only=True):
    """A plain-language recommendation produced by the rule `rule`."""

    rule: str
    severity: Severity
    message: str


class LoadIndicators(msgspec.Struct, frozen=True, kw_only=True):
    """The numbers the rules read, all as of the last day of the series.

    `acwr` is the EWMA ratio (the one the bands apply to), `acwr_rolling` the coupled
    rolling-average ratio for comparison; both are None before 28 days or at chronic load 0.
    `monotony` and `strain` are None with fewer than 7 days or a week without variation;
    `flat_week` is True when the last 7 days all carried the same non-zero load.
    `established` is False while `history_days` < 42 and the series was not seeded.
    """

    ctl: float
    atl: float
    tsb: float
    ramp_rate: float
    acwr: float | None
    acwr_rolling: float | None
    monotony: float | None
    strain: float | None
    flat_week: bool
    week_load: float
    history_days: int
    established: bool


class LoadAnalysis(msgspec.Struct, frozen=True, kw_only=True):
    """The training-load analysis of the last day of a PMC series."""

    indicators: LoadIndicators
    form: FormStatus
    ramp_risk: RiskLevel | None
    acwr_zone: AcwrZone | None
    acwr_risk: RiskLevel | None
    risk_level: RiskLevel | None
    risk_factors: tuple[str, ...]
    recommendations: tuple[Recommendation, ...]


RULES: Final[tuple[Rule, ...]] = (
    Rule(
        id="short_history",
        severity=Severity.INFO,
        condition=f"fewer than {ESTABLISHED_HISTORY_DAYS} days since the first load, not seeded",
        source="CTL time constant of 42 days (Coggan's PMC; GoldenCheetah PMCData.cpp)",
    ),
    Rule(
        id="ramp_high",
        severity=Severity.WARNING,
        condition=f"ramp rate >= {RAMP_HIGH:g} CTL/week with an established history",
        source="Friel, 'The CTL ramp rate', joefrielsblog.com, 2015",
    ),
    Rule(
        id="ramp_building",
        severity=Severity.ADVICE,
        condition=f"{RAMP_MEDIUM:g} <= ramp rate < {RAMP_HIGH:g} CTL/week with an established"
        " history",
        source="Friel 2015; Couzens, 'CTL ramp rates, TSB floors & loading patterns', 2015",
    ),
    Rule(
        id="acwr_spike",
        severity=Severity.WARNING,
        condition=f"EWMA ACWR >= {ACWR_DANGER:g}",
        source="Gabbett 2016, Br J Sports Med 50:273; EWMA: Williams et al. 2017",
    ),
    Rule(
        id="acwr_elevated",
        severity=Severity.ADVICE,
        condition=f"{ACWR_CAUTION:g} <= EWMA ACWR < {ACWR_DANGER:g}",
        source="Gabbett 2016 (above the 0.8-1.3 sweet spot)",
    ),
    Rule(
        id="acwr_low",
        severity=Severity.INFO,
        condition=f"EWMA ACWR < {ACWR_LOW:g}",
        source="Gabbett 2016 (below the sweet spot; risk comes with the return to load)",
    ),
    Rule(
        id="form_overreaching",
        severity=Severity.WARNING,
        condition=f"TSB < {TSB_OPTIMAL:g} with an established history",
        source="intervals.icu fitness chart: 'high risk' below -30",
    ),
    Rule(
        id="form_optimal",
        severity=Severity.INFO,
        condition=f"{TSB_OPTIMAL:g} <= TSB < {TSB_NEUTRAL:g}",
        source="intervals.icu fitness chart: 'optimal' -30 to -10",
    ),
    Rule(
        id="form_neutral",
        severity=Severity.INFO,
        condition=f"{TSB_NEUTRAL:g} <= TSB < {TSB_FRESH:g}",
        source="intervals.icu fitness chart: 'grey zone' -10 to +5",
    ),
    Rule(
        id="form_fresh",
        severity=Severity.INFO,
        condition=f"{TSB_FRESH:g} <= TSB < {TSB_TRANSITION:g}",
        source="intervals.icu fitness chart: 'fresh' +5 to +25",
    ),
    Rule(
        id="form_transition",
        severity=Severity.ADVICE,
        condition=f"TSB >= {TSB_TRANSITION:g}",
        source="intervals.icu fitness chart: 'transition' above +25",
    ),
    Rule(
        id="monotony_high",
        severity=Severity.ADVICE,
        condition=f"Foster monotony >= {MONOTONY_HIGH:g}, or 7 identical non-zero daily loads",
        source="Foster 1998, Med Sci Sports Exerc 30:1164",
    ),
)

_RULE: Final = {r.id: r for r in RULES}
_RULE_ORDER: Final = {r.id: i for i, r in enumerate(RULES)}
_SEVERITY_ORDER: Final = {Severity.WARNING: 0, Severity.ADVICE: 1, Severity.INFO: 2}
_RISK_ORDER: Final = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


def form_status(*, tsb: float) -> FormStatus:
    """The TSB band (a value on a boundary belongs to the band above)."""
    v = finite("tsb", tsb)
    if v >= TSB_TRANSITION:
        return FormStatus.TRANSITION
    if v >= TSB_FRESH:
        return FormStatus.FRESH
    if v >= TSB_NEUTRAL:
        return FormStatus.NEUTRAL
    if v >= TSB_OPTIMAL:
        return FormStatus.OPTIMAL
    return FormStatus.OVERREACHING


def ramp_risk(*, ramp_rate: float) -> RiskLevel:
    """Risk of a CTL ramp rate: < 5 low, 5 to < 8 medium, >= 8 high (CTL points per week)."""
    v = finite("ramp_rate", ramp_rate)
    if v >= RAMP_HIGH:
        return RiskLevel.HIGH
    if v >= RAMP_MEDIUM:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def acwr_zone(*, acwr: float) -> AcwrZone:
    """Gabbett's band of an ACWR: < 0.8, 0.8 to < 1.3, 1.3 to < 1.5, >= 1.5."""
    v = non_negative("acwr", acwr)
    if v >= ACWR_DANGER:
        return AcwrZone.DANGER
    if v >= ACWR_CAUTION:
        return AcwrZone.CAUTION
    if v >= ACWR_LOW:
        return AcwrZone.SWEET_SPOT
    return AcwrZone.UNDERLOADED


def acwr_risk(*, acwr: float) -> RiskLevel:
    """Risk of an ACWR: danger high, caution medium, sweet spot and underloaded low.

    Gabbett's curve also rises below 0.8, but what hurts is the spike when load returns;
    a taper or recovery week is not itself risky, so it is `low` with the `acwr_low` note.
    """
    match acwr_zone(acwr=acwr):
        case AcwrZone.DANGER:
            return RiskLevel.HIGH
        case AcwrZone.CAUTION:
            return RiskLevel.MEDIUM
        case _:
            return RiskLevel.LOW


def load_indicators(*, pmc: Sequence[PmcDay], initial_ctl: float = 0.0) -> LoadIndicators | None:
    """The indicators of the last day of `pmc`; None for an empty series.

    `initial_ctl` is the CTL before the first day (as given to `metrics.load.pmc`); a value
    above 0 means earlier history exists, so the history counts as established.
    """
    seed = non_negative("initial_ctl", initial_ctl)
    if not pmc:
        return None
    loads = [d.load for d in pmc]
    ctl = [d.ctl for d in pmc]
    last = pmc[-1]
    first_load = next((i for i, v in enumerate(loads) if v > 0), len(loads))
    history_days = len(loads) - first_load
    ramp = pmc_model.ramp_rate(ctl=ctl, initial_ctl=seed)
    assert ramp is not None  # the series is not empty
    week = loads[-pmc_model.FOSTER_WEEK_DAYS :]
    monotony = strain = None
    flat_week = False
    if len(week) == pmc_model.FOSTER_WEEK_DAYS and any(v > 0 for v in week):
        if max(week) == min(week):
            flat_week = True
        else:
            monotony = pmc_model.monotony(daily_loads=week)
            strain = pmc_model.strain(daily_loads=week)
    return LoadIndicators(
        ctl=finite("pmc.ctl", last.ctl),
        atl=finite("pmc.atl", last.atl),
        tsb=finite("pmc.tsb", last.tsb),
        ramp_rate=ramp,
        acwr=pmc_model.acwr_ewma(daily_loads=loads),
        acwr_rolling=pmc_model.acwr_rolling(daily_loads=loads),
        monotony=monotony,
        strain=strain,
        flat_week=flat_week,
        week_load=math.fsum(week),
        history_days=history_days,
        established=seed > 0 or history_days >= ESTABLISHED_HISTORY_DAYS,
    )


def recommendations(*, indicators: LoadIndicators) -> list[Recommendation]:
    """Every rule that fires for `indicators`, warnings first, then in rule-table order."""
    i = indicators
    fired: list[tuple[str, str]] = []
    if not i.established:
        fired.append(
            (
                "short_history",
                f"Only {i.history_days} days of training history. Fitness (CTL) averages over "
                f"{ESTABLISHED_HISTORY_DAYS} days, so for now it reads low, form (TSB) reads "
                "more tired than you are and the ramp rate overstates how fast your load is "
                f"rising; ramp-rate and overreaching warnings start after "
                f"{ESTABLISHED_HISTORY_DAYS} days. Importing older activities makes the "
                "numbers meaningful sooner.",
            )
        )
    else:
        match ramp_risk(ramp_rate=i.ramp_rate):
            case RiskLevel.HIGH:
                fired.append(
                    (
                        "ramp_high",
                        f"Fitness (CTL) rose {i.ramp_rate:.1f} points in the last 7 days. Above "
                        f"{RAMP_HIGH:g} a week few athletes absorb the load for long: keep next "
                        "week's load no higher than this week's and plan an easier week soon.",
                    )
                )
            case RiskLevel.MEDIUM:
                fired.append(
                    (
                        "ramp_building",
                        f"Fitness (CTL) is rising {i.ramp_rate:.1f} points a week, a productive "
                        "build. Hold it for two or three weeks, then take an easier week; over "
                        "a whole season 3-5 a week is what most athletes sustain.",
                    )
                )
            case RiskLevel.LOW:
                pass
    if i.acwr is not None:
        match acwr_zone(acwr=i.acwr):
            case AcwrZone.DANGER:
                fired.append(
                    (
                        "acwr_spike",
                        f"Your load of the last week is about {i.acwr:.2f} times your usual "
                        "load of the last four weeks. Spikes of "
                        f"{ACWR_DANGER:g} times or more came with the highest injury rates in "
                        "the studies behind this ratio: make the next days easy before adding "
                        "anything.",
                    )
                )
            case AcwrZone.CAUTION:
                fired.append(
                    (
                        "acwr_elevated",
                        f"Your load of the last week is about {i.acwr:.2f} times your usual "
                        f"load of the last four weeks, above the {ACWR_LOW:g}-{ACWR_CAUTION:g} "
                        "range. Fine for a planned hard week; do not stack another increase "
                        "on top of it.",
                    )
                )
            case AcwrZone.UNDERLOADED:
                fired.append(
                    (
                        "acwr_low",
                        f"Your load of the last week is about {i.acwr:.2f} times your usual "
                        "load of the last four weeks: a recovery week or taper. When you build "
                        "again, spread the return over two or three weeks; jumping straight "
                        "back is what creates a spike.",
                    )
                )
            case AcwrZone.SWEET_SPOT:
                pass
    form_rule = _form_message(i.tsb)
    if form_rule[0] != "form_overreaching" or i.established:
        fired.append(form_rule)
    if i.flat_week or (i.monotony is not None and i.monotony >= MONOTONY_HIGH):
        detail = (
            "the same load every day for a week"
            if i.flat_week
            else f"a monotony of {i.monotony:.1f} over the last 7 days"
        )
        fired.append(
            (
                "monotony_high",
                f"Your training has had {detail}: days are too alike. Monotony of "
                f"{MONOTONY_HIGH:g} or more came before most illnesses in Foster's athletes; "
                "make hard days harder, easy days easier and keep a rest day.",
            )
        )
    ordered = sorted(
        fired,
        key=lambda f: (_SEVERITY_ORDER[_RULE[f[0]].severity], _RULE_ORDER[f[0]]),
    )
    return [
        Recommendation(rule=rule, severity=_RULE[rule].severity, message=message)
        for rule, message in ordered
    ]


def analyse_training_load(
    *, pmc: Sequence[PmcDay], initial_ctl: float = 0.0
) -> LoadAnalysis | None:
    """The load analysis of the last day of `pmc` (today); None for an empty series."""
    indicators = load_indicators(pmc=pmc, initial_ctl=initial_ctl)
    if indicators is None:
        return None
    form = form_status(tsb=indicators.tsb)
    ramp = ramp_risk(ramp_rate=indicators.ramp_rate) if indicators.established else None
    zone = None if indicators.acwr is None else acwr_zone(acwr=indicators.acwr)
    acwr_level = None if indicators.acwr is None else acwr_risk(acwr=indicators.acwr)
    advice = recommendations(indicators=indicators)
    factors = tuple(r.rule for r in advice if r.rule in _RISK_RULES)
    levels = [level for level in (ramp, acwr_level) if level is not None]
    if form is FormStatus.OVERREACHING and indicators.established:
        levels.append(RiskLevel.HIGH)
    return LoadAnalysis(
        indicators=indicators,
        form=form,
        ramp_risk=ramp,
        acwr_zone=zone,
        acwr_risk=acwr_level,
        risk_level=max(levels, key=_RISK_ORDER.__getitem__) if levels else None,
        risk_factors=factors,
        recommendations=tuple(advice),
    )


_RISK_RULES: Final = frozenset(
    {"ramp_high", "ramp_building", "acwr_spike", "acwr_elevated", "form_overreaching"}
)


def _form_message(tsb: float) -> tuple[str, str]:
    match form_status(tsb=tsb):
        case FormStatus.OVERREACHING:
            return (
                "form_overreaching",
                f"Form is {tsb:+.0f}: fatigue is far above fitness. A few days here can build "
                "fitness; more than a week risks illness or overtraining, so schedule rest or "
                "easy days now.",
            )
        case FormStatus.OPTIMAL:
            return (
                "form_optimal",
                f"Form is {tsb:+.0f}, the productive training range: the fatigue you carry is "
                "what drives adaptation. Keep your recovery days in the plan.",
            )
        case FormStatus.NEUTRAL:
            return (
                "form_neutral",
                f"Form is {tsb:+.0f} (grey zone): your load roughly matches your fitness, so you "
                "are neither building much nor fresh. Add load to build, or taper to race.",
            )
        case FormStatus.FRESH:
            return (
                "form_fresh",
                f"Form is {tsb:+.0f}: you are fresh. A good day for a race or a key session.",
            )
        case FormStatus.TRANSITION:
            return (
                "form_transition",
                f"Form is {tsb:+.0f}: very fresh. For more than a week or two that means "
                "fitness is fading; fine in an off-season, otherwise pick training back up.",
            )


def rule(rule_id: str) -> Rule:
    """The documented rule with id `rule_id`."""
    try:
        return _RULE[rule_id]
    except KeyError:
        raise InvalidInput("rule_id", f"unknown rule {rule_id!r}") from None
