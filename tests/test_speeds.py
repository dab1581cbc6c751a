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
    speed_source_shares,
    speed_sources,
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
    e = _edges(["primary", "primary", None], [50.0, np.nan, np.nan])
    s = edge_speeds_kmh(e, Profile("p"))
    assert s.tolist() == pytest.approx([50 * 0.8, CAR_SPEEDS_KMH["primary"], 30.0])


def test_implausible_tagged_speeds_are_clamped_to_the_urban_design_speed():
    """CJJ 37 upper design speeds (parameters.md §1): arterial 60, secondary 50, branch 40,
    urban expressway 100 km/h; a 100 km/h value on an urban primary road drives at 0.8 × 60."""
    e = _edges(["primary", "secondary", "residential", "motorway", None, "primary"],
               [100.0, 100.0, 60.0, 120.0, 120.0, 60.0], lengths=[100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    s = edge_speeds_kmh(e, Profile("p"))
    assert s.tolist() == pytest.approx([48.0, 40.0, 32.0, 80.0, 96.0, 48.0])
    assert speed_sources(e, Profile("p")).tolist() == ["clamped", "clamped", "clamped", "clamped", "tagged",
                                                       "tagged"]
    # a scenario may lift a cap (e.g. a rural region)
    lifted = Profile("p", maxspeed_cap_kmh={})
    assert edge_speeds_kmh(e, lifted)[0] == pytest.approx(80.0)


def test_speed_source_shares_are_shares_of_length():
    e = _edges(["primary", "primary", None, "tertiary"], [100.0, 50.0, np.nan, np.nan],
               lengths=[100.0, 200.0, 600.0, 100.0])
    shares = speed_source_shares(e, {"a": Profile("a"), "b": Profile("b", use_maxspeed=False)})
    assert shares["a"] == {"tagged": 0.2, "clamped": 0.1, "class": 0.1, "fallback": 0.6,
                           "fallback_or_clamped": 0.7, "mostly_fallback": True}
    assert shares["b"]["class"] == pytest.approx(0.4) and shares["b"]["clamped"] == 0.0


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
    # 120 clamped to the urban-expressway 100, 0.8*100 = 80 under the truck class speed 85
    assert edge_speeds_kmh(e, default_profiles()["truck"])[2] == pytest.approx(80.0)
    e = _edges(["motorway"], [110.0])
    truck = Profile("t", vehicle="truck", speeds_kmh={"motorway": 70.0})
    assert edge_speeds_kmh(e, truck)[0] == pytest.approx(70.0)  # 0.8*100=80 capped at the class 70


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
