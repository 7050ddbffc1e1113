"""GPX decoding: Garmin/Strava extensions, UTC offsets, distances, routes, XML attacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from training_analyzer.adapters.files.gpx import parse_gpx
from training_analyzer.core.activities import Sport
from training_analyzer.core.errors import InvalidInput

# One degree of latitude on a sphere of the IUGG mean Earth radius 6,371,008.8 m:
# 2 * pi * R / 360 = 111,195.08 m (the haversine formula is exact along a meridian).
METRES_PER_DEGREE_LAT = 111_195.08

GARMIN_GPX = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="Garmin Connect" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
  xmlns:gpxpx="http://www.garmin.com/xmlschemas/PowerExtension/v1">
  <metadata><time>2024-05-01T05:59:00Z</time></metadata>
  <trk>
    <name>Morning Ride</name>
    <type>road_biking</type>
    <trkseg>
      <trkpt lat="45.000000" lon="7.000000">
        <ele>200.0</ele><time>2024-05-01T06:00:00Z</time>
        <extensions>
          <gpxpx:PowerExtension><gpxpx:PowerInWatts>210</gpxpx:PowerInWatts></gpxpx:PowerExtension>
          <gpxtpx:TrackPointExtension>
            <gpxtpx:hr>120</gpxtpx:hr><gpxtpx:cad>85</gpxtpx:cad>
          </gpxtpx:TrackPointExtension>
        </extensions>
      </trkpt>
      <trkpt lat="45.010000" lon="7.000000">
        <ele>204.0</ele><time>2024-05-01T06:02:00Z</time>
        <extensions>
          <gpxpx:PowerExtension><gpxpx:PowerInWatts>230</gpxpx:PowerInWatts></gpxpx:PowerExtension>
          <gpxtpx:TrackPointExtension>
            <gpxtpx:hr>130</gpxtpx:hr><gpxtpx:cad>87</gpxtpx:cad>
          </gpxtpx:TrackPointExtension>
        </extensions>
      </trkpt>
    </trkseg>
  </trk>
</gpx>
"""

# Strava writes <power> straight under <extensions>, and local times with an offset here.
STRAVA_GPX = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx creator="StravaGPX" version="1.1" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">
 <trk><name>Lunch Run</name><type>running</type><trkseg>
  <trkpt lat="45.0" lon="7.0"><ele>10</ele><time>2024-05-01T12:00:00+02:00</time>
   <extensions><power>300</power><gpxtpx:TrackPointExtension><gpxtpx:hr>150</gpxtpx:hr>
   </gpxtpx:TrackPointExtension></extensions></trkpt>
  <trkpt lat="45.001" lon="7.0"><ele>11</ele><time>2024-05-01T12:00:30+02:00</time>
   <extensions><power>320</power><gpxtpx:TrackPointExtension><gpxtpx:hr>0</gpxtpx:hr>
   </gpxtpx:TrackPointExtension></extensions></trkpt>
  <trkpt lat="45.002" lon="7.0"><ele>12</ele><time>2024-05-01T12:01:00+02:00</time></trkpt>
 </trkseg></trk>
</gpx>
"""


def test_garmin_gpx_reads_track_point_and_power_extensions() -> None:
    parsed = parse_gpx(data=GARMIN_GPX)
    (ride,) = parsed.activities
    assert ride.sport is Sport.RIDE
    assert ride.name == "Morning Ride"
    assert ride.sport_name == "road_biking"
    assert ride.start_time == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert ride.utc_offset_s is None  # "Z" says UTC, not the rider's local time
    assert ride.elapsed_s == 120
    assert ride.streams.time_s == [0.0, 120.0]
    assert ride.streams.hr_bpm == [120, 130]
    assert ride.streams.cadence_rpm == [85, 87]
    assert ride.streams.power_w == [210, 230]
    assert ride.streams.altitude_m == [200.0, 204.0]
    assert ride.avg_hr_bpm == 125
    assert ride.avg_power_w == 220
    assert ride.distance_m == pytest.approx(0.01 * METRES_PER_DEGREE_LAT, rel=1e-6)
    assert len(ride.laps) == 1
    assert ride.laps[0].elapsed_s == 120
    assert parsed.format == "gpx"


def test_strava_gpx_keeps_the_utc_offset_and_treats_zero_hr_as_missing() -> None:
    (run,) = parse_gpx(data=STRAVA_GPX).activities
    assert run.sport is Sport.RUN
    assert run.utc_offset_s == 7200
    assert run.start_time == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert run.streams.power_w == [300, 320, None]
    assert run.streams.hr_bpm == [150, None, None]
    assert run.avg_hr_bpm == 150
    assert run.distance_m == pytest.approx(0.002 * METRES_PER_DEGREE_LAT, rel=1e-6)
    assert run.streams.distance_m == pytest.approx(
        [0.0, 0.001 * METRES_PER_DEGREE_LAT, 0.002 * METRES_PER_DEGREE_LAT], rel=1e-6
    )


def test_gpx_1_0_without_namespaces_and_with_speed_is_read() -> None:
    data = b"""<gpx version="1.0"><trk><trkseg>
      <trkpt lat="1" lon="2"><time>2024-05-01T06:00:00</time><speed>3.5</speed></trkpt>
      <trkpt lat="1" lon="2.001"><time>2024-05-01T06:00:05</time><speed>3.7</speed></trkpt>
    </trkseg></trk></gpx>"""
    (activity,) = parse_gpx(data=data).activities
    assert activity.sport is Sport.OTHER  # no <type>
    assert activity.streams.speed_m_s == [3.5, 3.7]
    assert activity.start_time == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)  # naive -> UTC
    assert activity.utc_offset_s is None


def test_gpx_with_undeclared_extension_prefix_is_still_read() -> None:
    data = b"""<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2024-05-01T06:00:00Z</time>
      <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>99</gpxtpx:hr>
      </gpxtpx:TrackPointExtension></extensions></trkpt></trkseg></trk></gpx>"""
    (activity,) = parse_gpx(data=data).activities
    assert activity.streams.hr_bpm == [99]


def test_points_without_time_are_left_out_with_a_warning() -> None:
    data = b"""<gpx><trk><trkseg>
      <trkpt lat="1" lon="2"><time>2024-05-01T06:00:00Z</time></trkpt>
      <trkpt lat="1" lon="2.1"></trkpt>
      <trkpt lat="1" lon="2.2"><time>2024-05-01T06:00:10Z</time></trkpt>
    </trkseg></trk></gpx>"""
    parsed = parse_gpx(data=data)
    assert parsed.activities[0].streams.time_s == [0.0, 10.0]
    assert parsed.warnings == ["1 trackpoints without a time were left out"]


def test_route_without_times_is_refused() -> None:
    data = b"""<gpx><rte><rtept lat="1" lon="2"/><rtept lat="1" lon="3"/></rte></gpx>"""
    with pytest.raises(InvalidInput, match="only a route"):
        parse_gpx(data=data)


def test_track_without_any_time_is_refused_as_a_plan() -> None:
    data = b"""<gpx><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>"""
    with pytest.raises(InvalidInput, match="no timestamps"):
        parse_gpx(data=data)


def test_gpx_without_points_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no track points"):
        parse_gpx(data=b"<gpx><trk/></gpx>")


def test_other_xml_is_not_gpx() -> None:
    with pytest.raises(InvalidInput, match="not a GPX file"):
        parse_gpx(data=b"<kml><Document/></kml>")


def test_malformed_xml_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidInput, match=r"not well-formed XML .*line 2"):
        parse_gpx(data=b"<gpx>\n<trk></gpx>")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<gpx><trk><name>&lol3;</name></trk></gpx>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gpx><trk><name>&secret;</name></trk></gpx>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_doctype_and_entity_declarations_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="DOCTYPE or ENTITY"):
        parse_gpx(data=data)


def test_doctype_hidden_by_utf16_encoding_is_refused_by_the_parser() -> None:
    # The byte scan cannot see ASCII "<!DOCTYPE" in UTF-16; the expat handler still stops it.
    data = BILLION_LAUGHS.replace(b'version="1.0"?>', b'version="1.0" encoding="UTF-16"?>')
    encoded = data.decode().encode("utf-16")
    with pytest.raises(InvalidInput, match="DOCTYPE or ENTITY"):
        parse_gpx(data=encoded)


def test_utf16_gpx_is_read() -> None:
    text = GARMIN_GPX.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    (ride,) = parse_gpx(data=text.encode("utf-16")).activities
    assert ride.streams.hr_bpm == [120, 130]


def test_impossible_coordinates_and_nan_values_become_missing() -> None:
    data = b"""<gpx><trk><trkseg>
      <trkpt lat="91" lon="2"><time>2024-05-01T06:00:00Z</time><ele>nan</ele></trkpt>
      <trkpt lat="1" lon="2"><time>2024-05-01T06:00:01Z</time><ele>inf</ele></trkpt>
    </trkseg></trk></gpx>"""
    (activity,) = parse_gpx(data=data).activities
    assert activity.streams.lat_deg == [None, 1.0]
    assert activity.streams.altitude_m is None
