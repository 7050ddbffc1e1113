"""Benchmark: every metric of a 4-hour 1 Hz ride, and a 10-year PMC.

Budget on the reference machine (2 cores): under 20 ms for the ride, under 5 ms for the PMC.
Prints the median and p95 over repeated runs; run with `make bench` or
`.venv/bin/python bench/metrics.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable

from training_analyzer.core.metrics import heart_rate, load, power, streams, zones
from training_analyzer.core.metrics.streams import Streams

RIDE_SECONDS = 4 * 3600
PMC_DAYS = 3650


def synthetic_ride(seconds: int = RIDE_SECONDS, seed: int = 7) -> Streams:
    """A 4-hour 1 Hz ride with intervals, coasting, a hill profile and HR lagging power."""
    rng = random.Random(seed)
    power_w: list[float | None] = []
    hr: list[float | None] = []
    speed: list[float | None] = []
    altitude: list[float | None] = []
    distance: list[float | None] = []
    cadence: list[float | None] = []
    hr_now, dist = 95.0, 0.0
    for t in range(seconds):
        block = (t // 600) % 4  # 10-minute blocks: endurance, tempo, endurance, intervals
        base = (180.0, 240.0, 190.0, 300.0 if (t % 120) < 60 else 120.0)[block]
        p = max(0.0, rng.gauss(base, 25.0)) if rng.random() > 0.03 else 0.0  # coasting
        power_w.append(float(round(p)))  # power meters record whole watts
        hr_now += (100.0 + 0.25 * p - hr_now) / 30.0  # first-order lag toward a power target
        # devices record whole beats per minute; 0.2 % of samples drop out
        hr.append(None if rng.random() < 0.002 else float(round(hr_now + rng.gauss(0, 1.0))))
        v = 6.0 + p / 60.0
        speed.append(v)
        dist += v
        distance.append(dist)
        altitude.append(200.0 + 80.0 * math.sin(t / 900.0) + rng.gauss(0, 0.4))
        cadence.append(0.0 if p == 0 else 88.0 + rng.gauss(0, 3))
    return Streams(
        time_s=[float(t) for t in range(seconds)],
        hr_bpm=hr,
        power_w=power_w,
        speed_m_s=speed,
        distance_m=distance,
        altitude_m=altitude,
        cadence_rpm=cadence,
    )


def all_ride_metrics(ride: Streams) -> dict[str, object]:
    """Everything the import computes for a ride with HR and power."""
    ftp, lthr, rest, top = 250.0, 165.0, 48.0, 188.0
    hr_zone_set = zones.hr_zones_friel(lthr_bpm=lthr, sport=zones.FrielSport.BIKE)
    power_zone_set = zones.power_zones_coggan(ftp_w=ftp)
    summary = power.power_summary(power_w=ride.power_w, ftp_w=ftp)
    hr_load = heart_rate.heart_rate_load(
        hr_bpm=ride.hr_bpm, rest_hr_bpm=rest, max_hr_bpm=top, sex="male", lthr_bpm=lthr
    )
    assert summary is not None
    assert summary.normalized_power_w is not None
    assert hr_load is not None
    return {
        "moving_time_s": streams.moving_time_s(streams=ride),
        "elevation": streams.elevation_gain_loss(altitude_m=ride.altitude_m),
        "power": summary,
        "curve": power.power_curve(power_w=ride.power_w),
        "decoupling": power.aerobic_decoupling_pct(power_w=ride.power_w, hr_bpm=ride.hr_bpm),
        "ef": power.efficiency_factor(
            normalized_power_w=summary.normalized_power_w, average_hr_bpm=hr_load.avg_hr_bpm
        ),
        "hr": hr_load,
        "hr_zones": zones.time_in_zones(samples=ride.hr_bpm or [], zones=hr_zone_set),
        "power_zones": zones.time_in_zones(samples=ride.power_w or [], zones=power_zone_set),
    }


def ten_year_pmc(daily: list[float]) -> object:
    """The PMC series plus the derived figures the analytics page shows."""
    series = load.pmc(daily_loads=daily)
    ctl = [day.ctl for day in series]
    return series, load.ramp_rates(ctl=ctl), load.acwr_ewma(daily_loads=daily)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p95 wall time in milliseconds over `repeat` runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    ride = synthetic_ride()
    rng = random.Random(3)
    daily = [0.0 if rng.random() < 0.25 else rng.uniform(20, 180) for _ in range(PMC_DAYS)]
    ride_med, ride_p95 = timed(lambda: all_ride_metrics(ride), args.repeat)
    pmc_med, pmc_p95 = timed(lambda: ten_year_pmc(daily), args.repeat)
    print(f"{'benchmark':<44} {'median ms':>10} {'p95 ms':>8} {'budget ms':>10}")
    for name, med, p95, budget in (
        ("all metrics, 4-hour 1 Hz ride (14,400 s)", ride_med, ride_p95, 20),
        ("PMC + ramp rates + ACWR, 10 years (3,650 d)", pmc_med, pmc_p95, 5),
    ):
        print(f"{name:<44} {med:>10.2f} {p95:>8.2f} {budget:>10}")


if __name__ == "__main__":
    main()
