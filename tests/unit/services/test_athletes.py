"""The athlete service on fakes: dated thresholds, derived zones, and what a change rescores."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.unit.services.activity_world import UID, World, ride, tss
from training_analyzer.core.activities import LoadMethod, Sport
from training_analyzer.core.athletes import Thresholds
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.services.activities import hr_zone_set, power_zone_set
from training_analyzer.services.athletes import AthleteService, zones_for


async def _world(*thresholds: Thresholds, timezone: str = "UTC") -> tuple[World, AthleteService]:
    w = await World(timezone=timezone, thresholds=thresholds).setup()
    return w, AthleteService(storage=w.storage, clock=w.clock)


async def _loads(w: World) -> dict[str, float]:
    async with w.storage.unit_of_work(user_id=UID) as uow:
        page = await uow.activities.page(user_id=UID)
    return {a.start_time.date().isoformat(): a.metrics.load for a in page.items if a.metrics}


async def test_a_change_rescores_only_the_activities_it_affects() -> None:
    w, athletes = await _world(Thresholds(effective_from=date(2026, 1, 1), ftp_w=250.0))
    await w.upload("jan.fit", ride(datetime(2026, 1, 20, 7, tzinfo=UTC)))
    await w.upload("feb.fit", ride(datetime(2026, 2, 20, 7, tzinfo=UTC)))
    update = await athletes.put_thresholds(
        user_id=UID, thresholds=Thresholds(effective_from=date(2026, 2, 1), ftp_w=200.0)
    )
    assert update.rescored_count == 1
    assert update.recomputed_from == date(2026, 2, 20)
    assert await _loads(w) == {
        "2026-01-20": pytest.approx(tss(3600, 250, 250.0)),
        "2026-02-20": pytest.approx(tss(3600, 250, 200.0)),
    }
    assert await w.load_by_day() == {
        date(2026, 1, 20): pytest.approx(tss(3600, 250, 250.0)),
        date(2026, 2, 20): pytest.approx(tss(3600, 250, 200.0)),
    }


async def test_a_change_that_leaves_the_metrics_alone_rescores_nothing() -> None:
    w, athletes = await _world(Thresholds(effective_from=date(2026, 1, 1), ftp_w=250.0))
    await w.upload("ride.fit", ride(datetime(2026, 1, 20, 7, tzinfo=UTC)))
    before = await w.loads()
    update = await athletes.put_thresholds(
        user_id=UID, thresholds=Thresholds(effective_from=date(2026, 1, 10), weight_kg=70.0)
    )
    assert update.rescored_count == 0
    assert update.recomputed_from is None
    assert await w.loads() == before


async def test_heart_rate_thresholds_switch_a_run_to_hrtss() -> None:
    w, athletes = await _world(Thresholds(effective_from=date(2026, 1, 1), ftp_w=250.0))
    (run_id,) = await w.upload(
        "run.fit", ride(datetime(2026, 1, 20, 7, tzinfo=UTC), sport=Sport.RUN, hr_bpm=150.0)
    )
    assert await _loads(w) == {}  # no model applies: no load, never a made-up number
    await athletes.put_thresholds(
        user_id=UID,
        thresholds=Thresholds(
            effective_from=date(2026, 1, 1), lthr_bpm=170.0, max_hr_bpm=190.0, rest_hr_bpm=50.0
        ),
    )
    detail = await w.service.get_activity(user_id=UID, activity_id=run_id)
    metrics = detail.view.activity.metrics
    assert metrics is not None
    assert metrics.load_method is LoadMethod.HR_TSS
    assert detail.hr_zones is not None
    assert detail.hr_zones.method == "friel_lthr_run"


async def test_empty_and_contradictory_records_are_refused_and_nothing_changes() -> None:
    _, athletes = await _world(Thresholds(effective_from=date(2026, 2, 1), rest_hr_bpm=60.0))
    with pytest.raises(InvalidInput) as empty:
        await athletes.put_thresholds(
            user_id=UID, thresholds=Thresholds(effective_from=date(2026, 1, 1))
        )
    assert empty.value.argument == "thresholds"
    with pytest.raises(InvalidInput) as contradiction:
        await athletes.put_thresholds(
            user_id=UID, thresholds=Thresholds(effective_from=date(2026, 1, 1), max_hr_bpm=55.0)
        )
    assert contradiction.value.argument == "max_hr_bpm"
    view = await athletes.get_thresholds(user_id=UID)
    assert [t.effective_from for t in view.history] == [date(2026, 2, 1)]


async def test_current_thresholds_and_today_follow_the_users_timezone() -> None:
    # The clock reads 2026-03-02 08:00 UTC: in Honolulu (UTC-10) it is still 1 March.
    _, athletes = await _world(
        Thresholds(effective_from=date(2026, 1, 1), ftp_w=240.0),
        Thresholds(effective_from=date(2026, 3, 2), ftp_w=260.0),
        timezone="Pacific/Honolulu",
    )
    assert await athletes.today(user_id=UID) == date(2026, 3, 1)
    view = await athletes.get_thresholds(user_id=UID)
    assert view.current is not None
    assert view.current.ftp_w == 240.0


async def test_an_unknown_user_is_not_found() -> None:
    _, athletes = await _world()
    with pytest.raises(NotFound):
        await athletes.get_thresholds(user_id="nobody")


def test_zones_follow_the_documented_choice() -> None:
    lthr = Thresholds(effective_from=date(2026, 1, 1), lthr_bpm=170.0, max_hr_bpm=190.0)
    karvonen = Thresholds(effective_from=date(2026, 1, 1), max_hr_bpm=190.0, rest_hr_bpm=50.0)
    only_max = Thresholds(effective_from=date(2026, 1, 1), max_hr_bpm=200.0)
    assert hr_zone_set(sport=Sport.TRAIL_RUN, thresholds=lthr).method == "friel_lthr_run"  # type: ignore[union-attr]
    assert hr_zone_set(sport=Sport.ROW, thresholds=lthr).method == "friel_lthr_bike"  # type: ignore[union-attr]
    assert hr_zone_set(sport=Sport.RUN, thresholds=karvonen).method == "karvonen"  # type: ignore[union-attr]
    percent = hr_zone_set(sport=Sport.RUN, thresholds=only_max)
    assert percent is not None
    # Edwards' zones at 60/70/80/90 % of HR max 200.
    assert percent.boundaries == (120.0, 140.0, 160.0, 180.0)
    assert hr_zone_set(sport=Sport.RUN, thresholds=None) is None
    ftp = Thresholds(effective_from=date(2026, 1, 1), ftp_w=300.0)
    assert power_zone_set(sport=Sport.RUN, thresholds=ftp) is None  # power TSS is rides only
    ride_zones = power_zone_set(sport=Sport.GRAVEL_RIDE, thresholds=ftp)
    assert ride_zones is not None
    assert ride_zones.boundaries == (165.0, 225.0, 270.0, 315.0, 360.0, 450.0)
    everything = zones_for(
        Thresholds(effective_from=date(2026, 1, 1), ftp_w=300.0, threshold_pace_s_per_km=300.0)
    )
    assert everything.hr_run is None
    assert everything.power == ride_zones
    assert everything.pace is not None
    assert zones_for(None).power is None
