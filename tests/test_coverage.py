"""Supplier coverage audit on tiny networks with known answers."""
import numpy as np
import pandas as pd
import pytest

from planner.network.graph import build_network
from planner.network.speeds import Profile
from planner.supply_circle import supplier_coverage
from tests._helpers import LAT0, LON0, raw_tables

STEP = 0.01  # ~850 m of longitude here; lengths are given explicitly below


def _line_network():
    """Plant at node 0; nodes 1..4 east of it. 0↔1↔2↔3 two-way (6 km each), 3→4 one-way east.

    At 36 km/h every 6 km edge takes exactly 600 s (10 min): node 3 is exactly 30 min from the plant.
    Node 4 can be reached from the plant but cannot drive back to it.
    """
    xy = {i: (LON0 + i * STEP, LAT0) for i in range(5)}
    arcs = []
    for a in range(3):
        arcs += [(a, a + 1, 6000.0), (a + 1, a, 6000.0)]
    arcs.append((3, 4, 6000.0))
    nodes, edges = raw_tables(xy, arcs)
    profiles = {
        "offpeak": Profile("offpeak", speeds_kmh={}, fallback_kmh=36.0),
        "peak": Profile("peak", speeds_kmh={}, fallback_kmh=36.0, factors={"default": 0.5}),
    }
    return build_network(nodes, edges, profiles, keep_largest=False)


def _sites(ids, nodes_x, plants=None, weights=None):
    return pd.DataFrame({
        "site_id": ids,
        "name": ids,
        "lon": [LON0 + x * STEP for x in nodes_x],
        "lat": [LAT0] * len(ids),
        "weight": weights or [1.0] * len(ids),
        "plants": plants or [()] * len(ids),
    })


def test_exactly_thirty_minutes_is_covered_and_unreachable_is_not():
    net = _line_network()
    plants = _sites(["P"], [0])
    sup = _sites(["s1", "s3", "s4"], [1, 3, 4], weights=[1.0, 3.0, 6.0])
    res = supplier_coverage(net, plants, sup, profiles=["offpeak", "peak"], threshold_min=30)
    t = res.supplier_times.set_index(["supplier_id", "profile"])
    assert t.loc[("s1", "offpeak"), "minutes"] == pytest.approx(10.0)
    assert t.loc[("s3", "offpeak"), "minutes"] == 30.0
    assert bool(t.loc[("s3", "offpeak"), "covered"]) and t.loc[("s3", "offpeak"), "slack_minutes"] == 0.0
    assert np.isinf(t.loc[("s4", "offpeak"), "minutes"]) and not t.loc[("s4", "offpeak"), "covered"]
    assert any("cannot reach the plant" in w and "s4" in w for w in res.warnings)
    # peak halves speeds: s1 20 min (covered), s3 60 min (lost at peak)
    assert t.loc[("s3", "peak"), "minutes"] == pytest.approx(60.0)
    assert res.lost_at_peak.supplier_id.tolist() == ["s3"]
    s = res.plant_summary.set_index("profile")
    assert s.loc["offpeak", "suppliers_covered"] == 2 and s.loc["offpeak", "suppliers_total"] == 3
    assert s.loc["offpeak", "weighted_share_covered"] == pytest.approx(4 / 10)
    assert s.loc["peak", "share_covered"] == pytest.approx(1 / 3)
    assert s.loc["peak", "lost_at_peak"] == 1


def test_direction_is_supplier_to_plant():
    # the one-way 3→4 lets the plant reach node 4 in 40 min, but node 4 never reaches the plant
    net = _line_network()
    res = supplier_coverage(net, _sites(["P"], [4]), _sites(["s0"], [0]), profiles=["offpeak"])
    # supplier at node 0 drives TO the plant at node 4: 0→1→2→3→4 = 40 min
    assert res.supplier_times.minutes.iloc[0] == pytest.approx(40.0)
    res2 = supplier_coverage(net, _sites(["P"], [0]), _sites(["s4"], [4]), profiles=["offpeak"])
    assert np.isinf(res2.supplier_times.minutes.iloc[0])


def test_served_plants_and_sensitivity():
    net = _line_network()
    plants = _sites(["A", "B"], [0, 2])
    sup = _sites(["x", "y"], [1, 3], plants=[("A",), ("A", "B")])
    res = supplier_coverage(net, plants, sup, profiles=["offpeak"], threshold_min=30,
                            speed_scales=[0.5, 1.0])
    st = res.supplier_times
    assert st.serves.tolist() == [True, False, True, True]  # x serves A only; y serves both
    summ = res.plant_summary.set_index("plant_id")
    assert summ.loc["A", "suppliers_total"] == 2 and summ.loc["B", "suppliers_total"] == 1
    sens = res.sensitivity.set_index(["plant_id", "speed_scale"])
    # plant A: x 10 min, y 30 min → at half speed 20 and 60 min → one of two covered
    assert sens.loc[("A", 0.5), "suppliers_covered"] == 1 and sens.loc[("A", 1.0), "suppliers_covered"] == 2
    brk = res.breaking_scale.set_index("plant_id")
    assert brk.loc["A", "breaking_speed_scale"] == pytest.approx(1.0)  # 30 min / 30 min
    assert brk.loc["B", "breaking_speed_scale"] == pytest.approx(10 / 30)
    assert bool(brk.loc["A", "holds_at_free_flow"])


def test_unknown_served_plant_is_a_warning():
    net = _line_network()
    res = supplier_coverage(net, _sites(["A"], [0]), _sites(["x"], [1], plants=[("Z",)]), profiles=["offpeak"])
    assert any("not in the plant list: Z" in w for w in res.warnings)


def test_fit_area_is_where_every_plant_is_within_the_threshold():
    import geopandas as gpd
    import shapely

    from planner.supply_circle import fit_area

    net = _line_network()                         # 10 min per edge, plants at nodes 0 and 2
    plants = _sites(["A", "B"], [0, 2])
    land = gpd.GeoDataFrame(geometry=[shapely.box(LON0 + 0.9 * STEP, LAT0 - 0.0004, LON0 + 1.1 * STEP,
                                                  LAT0 + 0.0004)] * 2, crs=4326)   # overlapping copies
    out = fit_area(net, plants, "offpeak", 15, buffer_m=60.0, land=land).set_index(["scope", "plant_id"])
    assert out.crs == "EPSG:4326"

    def inside(key, x):
        return bool(out.geometry.loc[key].contains(shapely.Point(LON0 + x * STEP, LAT0)))

    # within 15 min of A: x <= 1.5; of B: 0.5 <= x <= 3 (a point on the one-way 3 -> 4 must drive on
    # to node 4, which never comes back)
    assert [inside(("all_plants", ""), x) for x in (0.3, 0.6, 1.0, 1.4, 1.8)] == [False, True, True, True, False]
    assert [inside(("plant", "A"), x) for x in (0.2, 1.4, 1.7)] == [True, True, False]
    assert [inside(("plant", "B"), x) for x in (0.3, 0.6, 2.9, 3.4)] == [False, True, True, False]
    assert out.loc[("all_plants", ""), "nodes_within"] == 1             # node 1 only: 10 min to each
    assert out.loc[("plant", "B"), "nodes_within"] == 3                 # nodes 1, 2, 3
    # the land box lies inside the common area and is counted once
    box_ha = land.to_crs(net.metric_crs).area.iloc[0] / 1e4
    assert out.loc[("all_plants", ""), "land_ha"] == pytest.approx(box_ha, rel=1e-6)
    assert out.loc[("all_plants", ""), "area_ha"] < out.loc[("plant", "A"), "area_ha"]
