"""TCX decoding: laps, trackpoints, the ActivityExtension TPX/LX fields, multi-sport."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from training_analyzer.adapters.files.tcx import parse_tcx
from training_analyzer.core.activities import Sport
from training_analyzer.core.errors import InvalidInput

HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"'
    b' xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">'
)


def _point(time: str, *, hr: int, watts: int, dist: float, cadence: int = 90) -> str:
    return (
        f"<Trackpoint><Time>{time}</Time>"
        "<Position><LatitudeDegrees>45.0</LatitudeDegrees>"
        "<LongitudeDegrees>7.0</LongitudeDegrees></Position>"
        f"<AltitudeMeters>100</AltitudeMeters><DistanceMeters>{dist}</DistanceMeters>"
        f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm><Cadence>{cadence}</Cadence>"
        f"<Extensions><ns3:TPX><ns3:Speed>8.0</ns3:Speed><ns3:Watts>{watts}</ns3:Watts>"
        "</ns3:TPX></Extensions></Trackpoint>"
    )


def _lap(start: str, *, seconds: float, metres: float, avg_hr: int, max_hr: int, watts: int,
         points: str) -> str:  # fmt: skip
    return (
        f'<Lap StartTime="{start}"><TotalTimeSeconds>{seconds}</TotalTimeSeconds>'
        f"<DistanceMeters>{metres}</DistanceMeters><MaximumSpeed>9.5</MaximumSpeed>"
        f"<Calories>100</Calories><AverageHeartRateBpm><Value>{avg_hr}</Value>"
        f"</AverageHeartRateBpm><MaximumHeartRateBpm><Value>{max_hr}</Value>"
        "</MaximumHeartRateBpm><Intensity>Active</Intensity><Cadence>88</Cadence>"
        f"<TriggerMethod>Manual</TriggerMethod><Track>{points}</Track>"
        f"<Extensions><ns3:LX><ns3:AvgWatts>{watts}</ns3:AvgWatts>"
        f"<ns3:MaxWatts>{watts + 100}</ns3:MaxWatts></ns3:LX></Extensions></Lap>"
    )


RIDE_TCX = (
    HEAD
    + (
        '<Activities><Activity Sport="Biking"><Id>2024-05-01T08:00:00+02:00</Id>'
        + _lap(
            "2024-05-01T08:00:00+02:00",
            seconds=60,
            metres=480,
            avg_hr=140,
            max_hr=150,
            watts=200,
            points=_point("2024-05-01T08:00:00+02:00", hr=138, watts=190, dist=0)
            + _point("2024-05-01T08:01:00+02:00", hr=150, watts=210, dist=480),
        )
        + _lap(
            "2024-05-01T08:01:00+02:00",
            seconds=180,
            metres=1500,
            avg_hr=160,
            max_hr=170,
            watts=300,
            points=_point("2024-05-01T08:04:00+02:00", hr=170, watts=310, dist=1980),
        )
        + "<Creator><Name>Edge 530</Name><UnitId>3311</UnitId></Creator>"
        "</Activity></Activities></TrainingCenterDatabase>"
    ).encode()
)


def test_tcx_ride_reads_laps_trackpoints_and_extensions() -> None:
    parsed = parse_tcx(data=RIDE_TCX)
    (ride,) = parsed.activities
    assert ride.sport is Sport.RIDE
    assert ride.sport_name == "Biking"
    assert ride.start_time == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert ride.utc_offset_s == 7200
    assert ride.elapsed_s == 240
    assert ride.timer_s == 240
    assert ride.distance_m == 1980
    # Time-weighted over the laps: (140 * 60 + 160 * 180) / 240 = 155; power likewise 275.
    assert ride.avg_hr_bpm == 155
    assert ride.avg_power_w == 275
    assert ride.max_hr_bpm == 170
    assert ride.max_power_w == 400
    assert ride.max_speed_m_s == 9.5
    assert ride.energy_kcal == 200
    assert ride.device_name == "Edge 530"
    assert ride.device_serial == "3311"
    assert [lap.elapsed_s for lap in ride.laps] == [60, 180]
    assert ride.laps[1].avg_power_w == 300
    assert ride.streams.time_s == [0.0, 60.0, 240.0]
    assert ride.streams.hr_bpm == [138, 150, 170]
    assert ride.streams.power_w == [190, 210, 310]
    assert ride.streams.speed_m_s == [8.0, 8.0, 8.0]
    assert ride.streams.cadence_rpm == [90, 90, 90]
    assert ride.streams.distance_m == [0, 480, 1980]
    assert parsed.format == "tcx"


def test_tcx_times_in_utc_leave_the_offset_unknown() -> None:
    data = RIDE_TCX.replace(b"+02:00", b"Z")
    (ride,) = parse_tcx(data=data).activities
    assert ride.utc_offset_s is None
    assert ride.start_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_tcx_run_cadence_from_the_extension() -> None:
    data = HEAD + (
        b'<Activities><Activity Sport="Running"><Id>2024-05-01T06:00:00Z</Id>'
        b'<Lap StartTime="2024-05-01T06:00:00Z"><TotalTimeSeconds>1</TotalTimeSeconds><Track>'
        b"<Trackpoint><Time>2024-05-01T06:00:00Z</Time><Extensions><ns3:TPX>"
        b"<ns3:RunCadence>88</ns3:RunCadence></ns3:TPX></Extensions></Trackpoint>"
        b"</Track></Lap></Activity></Activities></TrainingCenterDatabase>"
    )
    (run,) = parse_tcx(data=data).activities
    assert run.sport is Sport.RUN
    assert run.streams.cadence_rpm == [88]
    assert run.avg_hr_bpm is None
    assert run.streams.hr_bpm is None


def test_tcx_multisport_session_links_its_activities() -> None:
    def leg(sport: str, start: str) -> bytes:
        return (
            f'<Activity Sport="{sport}"><Id>{start}</Id><Lap StartTime="{start}">'
            f"<TotalTimeSeconds>60</TotalTimeSeconds><Track><Trackpoint><Time>{start}</Time>"
            "<HeartRateBpm><Value>120</Value></HeartRateBpm></Trackpoint></Track></Lap>"
            "</Activity>"
        ).encode()

    data = (
        HEAD
        + b"<Activities><MultiSportSession><Id>2024-05-01T06:00:00Z</Id><FirstSport>"
        + leg("Biking", "2024-05-01T06:00:00Z")
        + b"</FirstSport><NextSport><Transition><TotalTimeSeconds>30</TotalTimeSeconds>"
        + b"</Transition>"
        + leg("Running", "2024-05-01T06:01:30Z")
        + b"</NextSport></MultiSportSession></Activities></TrainingCenterDatabase>"
    )
    bike, run = parse_tcx(data=data).activities
    assert (bike.sport, run.sport) == (Sport.RIDE, Sport.RUN)
    assert bike.multisport_group == run.multisport_group is not None
    assert (bike.multisport_index, run.multisport_index) == (0, 1)


def test_separate_tcx_activities_are_not_linked() -> None:
    data = RIDE_TCX.replace(b"</Activity></Activities>", b"</Activity>").replace(
        b"</TrainingCenterDatabase>",
        b'<Activity Sport="Other"><Id>2024-05-02T06:00:00Z</Id><Lap StartTime="2024-05-02T06'
        b':00:00Z"><TotalTimeSeconds>5</TotalTimeSeconds></Lap></Activity></Activities>'
        b"</TrainingCenterDatabase>",
    )
    first, second = parse_tcx(data=data).activities
    assert second.sport is Sport.OTHER
    assert second.elapsed_s == 5
    assert second.streams.time_s == []
    assert first.multisport_group is None
    assert second.multisport_group is None


def test_tcx_without_activities_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no recorded activity"):
        parse_tcx(data=HEAD + b"<Activities/></TrainingCenterDatabase>")


def test_gpx_is_not_tcx() -> None:
    with pytest.raises(InvalidInput, match="not a TCX file"):
        parse_tcx(data=b"<gpx/>")


def test_tcx_doctype_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><TrainingCenterDatabase/>'
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        parse_tcx(data=data)
