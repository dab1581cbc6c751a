import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, box

from planner.errors import ScenarioError
from planner.network.speeds import (
    CAR_SPEEDS_KMH,
    PEAK_FACTORS,
    Profile,
    Restriction,
    default_profiles,
    edge_speeds_kmh,
    edge_travel_times,
)


def _edges(classes, maxspeeds, hgv=None, lengths=None, lon=116.5):
    n = len(classes)
    return gpd.GeoDataFrame(
        {
            "road_class": classes,
            "maxspeed_kmh": maxspeeds,
            "hgv": hgv or [None] * n,
            "length_m": lengths or [1000.0] * n,
        },
        geometry=[LineString([(lon + i * 0.01, 39.8), (lon + i * 0.01 + 0.005, 39.8)]) for i in range(n)],
        crs=4326,
    )


def test_tagged_maxspeed_wins_then_class_then_fallback():
    e = _edges(["primary", "primary", None], [80.0, np.nan, np.nan])
    s = edge_speeds_kmh(e, Profile("p"))
    assert s.tolist() == pytest.approx([80 * 0.8, CAR_SPEEDS_KMH["primary"], 30.0])


def test_peak_is_slower_per_class_and_times_are_seconds():
    e = _edges(["primary", "residential", "mystery"], [np.nan] * 3)
    prof = default_profiles()
    off = edge_travel_times(e, prof["offpeak"])
    peak = edge_travel_times(e, prof["peak"])
    assert off[0] == pytest.approx(1000 / (65 / 3.6))
    np.testing.assert_allclose(peak / off, [1 / PEAK_FACTORS["primary"], 1 / PEAK_FACTORS["residential"],
                                            1 / PEAK_FACTORS["default"]])


def test_speed_scale_and_invalid_scale():
    e = _edges(["primary"], [np.nan])
    assert edge_speeds_kmh(e, Profile("p"), 0.5)[0] == pytest.approx(32.5)
    with pytest.raises(ScenarioError):
        edge_speeds_kmh(e, Profile("p"), 0.0)


def test_truck_honours_hgv_and_caps_car_limits():
    e = _edges(["primary", "primary", "motorway"], [np.nan, np.nan, 120.0], hgv=["no", None, None])
    t = edge_travel_times(e, default_profiles()["truck"])
    assert np.isinf(t[0]) and np.isfinite(t[1])
    assert edge_speeds_kmh(e, default_profiles()["truck"])[2] == pytest.approx(85.0)  # 0.8*120=96 capped


def test_truck_ban_closes_inside_polygon_only_during_its_hours():
    e = _edges(["primary", "primary"], [np.nan, np.nan])
    ban = Restriction("ban", box(116.49, 39.79, 116.506, 39.81), hours=(6, 23), action="close")
    day = Profile("truck", vehicle="truck", departure_hour=10, restrictions=[ban])
    night = Profile("truck", vehicle="truck", departure_hour=2, restrictions=[ban])
    t_day, t_night = edge_travel_times(e, day), edge_travel_times(e, night)
    assert np.isinf(t_day[0]) and np.isfinite(t_day[1])
    assert np.isfinite(t_night).all()
    slow = Restriction("slow", box(116.49, 39.79, 116.506, 39.81), hours=(22, 4), action="slow", factor=0.5)
    assert slow.active_at(23) and slow.active_at(3) and not slow.active_at(12)
    t_slow = edge_travel_times(e, Profile("t", vehicle="truck", departure_hour=23, restrictions=[slow]))
    assert t_slow[0] == pytest.approx(2 * t_night[0])
