"""Tests of planner.network.repair on small synthetic networks and on the SE-Beijing layer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from planner import settings
from planner.errors import InputError, NetworkError
from planner.network.repair import (
    CONNECTOR_CLASS,
    giant_component,
    largest_strong_component,
    qa_report,
    repair_dangling,
)

SE_ROADS = "beijing-se-roads/beijing_se_drive_edges_osm2025.gpkg"


# ---------------------------------------------------------------------------------------------
# synthetic networks
# ---------------------------------------------------------------------------------------------
def _network(xy, one_way=(), two_way=(), classes=None):
    """Nodes at metric ``xy`` (lon/lat = xy / 1e5) and edges from (a, b) pairs."""
    xy = np.asarray(xy, float)
    nodes = pd.DataFrame({
        "node_id": np.arange(len(xy), dtype=np.int64) + 1000,
        "lon": 116.5 + xy[:, 0] / 1e5,
        "lat": 39.8 + xy[:, 1] / 1e5,
        "x": xy[:, 0],
        "y": xy[:, 1],
    })
    pairs = list(one_way) + [p for a, b in two_way for p in ((a, b), (b, a))]
    u = np.array([p[0] for p in pairs], np.int64)
    v = np.array([p[1] for p in pairs], np.int64)
    edges = pd.DataFrame({
        "u": u,
        "v": v,
        "length_m": np.hypot(*(xy[u] - xy[v]).T),
        "road_class": classes if classes is not None else ["residential"] * len(pairs),
    })
    return nodes, edges


def _grid_xy(size=3, step=100.0):
    r, c = np.divmod(np.arange(size * size), size)
    return np.c_[c * step, r * step]


def _grid_links(size=3):
    links = []
    for i in range(size * size):
        r, c = divmod(i, size)
        if c + 1 < size:
            links.append((i, i + 1))
        if r + 1 < size:
            links.append((i, i + size))
    return links


@pytest.fixture
def grid_with_carriageway():
    """3x3 two-way grid (nodes 0-8, 100 m) and a one-way carriageway 9->10->11->12->13
    running 40 m south of the grid's bottom row, eastwards, with no way on or off."""
    xy = np.r_[_grid_xy(), [[0, -40], [50, -40], [100, -40], [150, -40], [200, -40]]]
    one_way = [(9, 10), (10, 11), (11, 12), (12, 13)]
    return _network(xy, one_way=one_way, two_way=_grid_links())


def _connectors(edges):
    return edges.loc[edges["repaired"]]


def _pairs(edges):
    return set(zip(edges["u"].tolist(), edges["v"].tolist()))


# ---------------------------------------------------------------------------------------------
# qa_report
# ---------------------------------------------------------------------------------------------
def test_qa_report_known_counts(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    # a one-way stub off the grid that dead-ends (4 -> 14), and one unclassified grid edge
    nodes = pd.concat([nodes, pd.DataFrame({"node_id": [2000], "lon": [116.5], "lat": [39.8],
                                            "x": [150.0], "y": [150.0]})], ignore_index=True)
    stub = pd.DataFrame({"u": [4], "v": [14], "length_m": [70.7], "road_class": [None]})
    edges = pd.concat([edges, stub], ignore_index=True)
    r = qa_report(nodes, edges)

    assert r["nodes"] == 15 and r["edges"] == 12 * 2 + 4 + 1
    assert r["weak_components"] == 2  # grid + stub, carriageway
    assert r["strong_components"] == 1 + 5 + 1  # grid, 5 carriageway nodes, stub end
    g = r["giant"]
    assert (g["nodes"], g["edges"]) == (9, 24)
    assert g["km"] == pytest.approx(2.4)
    assert g["share_edges"] == pytest.approx(24 / 29)
    assert r["dead_ends"] == {"sinks": 2, "sources": 1, "degree1": 3, "isolated": 0}
    de = r["dead_end_nodes"].set_index("node")
    assert set(de.index) == {9, 13, 14}
    assert de.loc[13, "sink"] and de.loc[9, "source"] and de.loc[14, "sink"]
    assert de.loc[14, "node_id"] == 2000 and not de["in_giant"].any()
    frag = r["fragments"]
    assert frag["count"] == 2 and frag["edges"] == 5
    assert frag["oneway_dead"] == 2 and frag["islands"] == 1
    assert frag["islands_km"] == pytest.approx(0.2)
    table = r["fragment_table"].set_index("nodes")
    assert table.loc[5, "island"] and table.loc[5, "entries"] == 0
    assert table.loc[1, "entries"] == 1 and table.loc[1, "exits"] == 0
    assert r["unclassified"] == {"edges": 1, "km": pytest.approx(0.0707)}
    node_mask, edge_mask = giant_component(nodes, edges)
    assert node_mask.sum() == 9 and edge_mask.sum() == 24 and not node_mask[9:].any()
    # the dict is JSON-friendly apart from its two tables
    import json

    json.dumps({k: v for k, v in r.items() if not isinstance(v, pd.DataFrame)})


def test_qa_report_strongly_connected_network():
    nodes, edges = _network(_grid_xy(), two_way=_grid_links())
    r = qa_report(nodes, edges)
    assert r["strong_components"] == 1 and r["weak_components"] == 1
    assert r["giant"]["share_km"] == 1.0
    assert r["fragments"]["count"] == 0 and len(r["fragment_table"]) == 0
    # corners of a grid are not dead ends; a two-way cul-de-sac is (degree 1)
    assert r["dead_ends"]["degree1"] == 0
    nodes2, edges2 = _network(np.r_[_grid_xy(), [[300, 0]]], two_way=_grid_links() + [(2, 9)])
    r2 = qa_report(nodes2, edges2)
    assert r2["dead_ends"] == {"sinks": 0, "sources": 0, "degree1": 1, "isolated": 0}
    assert r2["giant"]["nodes"] == 10


# ---------------------------------------------------------------------------------------------
# repair_dangling
# ---------------------------------------------------------------------------------------------
def test_repair_joins_carriageway_ends_in_travel_direction(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    out, summary = repair_dangling(nodes, edges, tolerance_m=50)
    con = _connectors(out)
    # end of the carriageway (13, out-degree 0) -> nearest grid node (2, 40 m);
    # nearest grid node to its start (9, in-degree 0) is 0 -> 9
    assert _pairs(con) == {(13, 2), (0, 9)}
    assert (con["road_class"] == CONNECTOR_CLASS).all()
    np.testing.assert_allclose(con["length_m"], 40.0)
    assert summary["connectors"] == 2 and summary["exits"] == 1 and summary["entries"] == 1
    assert summary["km"] == pytest.approx(0.08)
    assert summary["giant_before"]["nodes"] == 9 and summary["giant_after"]["nodes"] == 14
    assert summary["giant_after"]["share_edges"] == 1.0
    # input rows kept first and unchanged
    pd.testing.assert_frame_equal(out.iloc[: len(edges)][edges.columns], edges)
    assert not out.iloc[: len(edges)]["repaired"].any()
    after = qa_report(nodes, out)
    assert after["strong_components"] == 1


def test_repair_respects_tolerance(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    out, summary = repair_dangling(nodes, edges, tolerance_m=30)
    assert len(out) == len(edges) and summary["connectors"] == 0
    assert summary["unmatched_exits"] == 1 and summary["unmatched_entries"] == 1
    assert summary["giant_after"] == summary["giant_before"]
    # just above the 40 m gap both ends are joined, and no connector is longer than allowed
    out2, s2 = repair_dangling(nodes, edges, tolerance_m=40.5)
    assert s2["connectors"] == 2 and (_connectors(out2)["length_m"] <= 40.5).all()


def test_repair_candidates_get_exit_and_entry(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    cand = np.zeros(len(nodes), bool)
    cand[11] = True  # in = out = 1 on the carriageway, 40 m south of grid node 1
    cand[4] = True  # inside the giant SCC: ignored
    out, summary = repair_dangling(nodes, edges, tolerance_m=50, candidates=cand)
    assert _pairs(_connectors(out)) == {(13, 2), (0, 9), (11, 1), (1, 11)}
    assert summary["exits"] == 2 and summary["entries"] == 2
    # positions work as well as a mask
    out_pos, _ = repair_dangling(nodes, edges, tolerance_m=50, candidates=[11, 4])
    assert _pairs(_connectors(out_pos)) == _pairs(_connectors(out))
    # the two connectors of node 11 make a two-way pair
    con = _connectors(out).set_index(["u", "v"])
    assert not con.loc[(11, 1), "oneway"] and con.loc[(13, 2), "oneway"]


def test_repair_only_nodes(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    out, _ = repair_dangling(nodes, edges, tolerance_m=50, only_nodes=[13])
    assert _pairs(_connectors(out)) == {(13, 2)}
    mask = np.zeros(len(nodes), bool)
    mask[9] = True
    out, _ = repair_dangling(nodes, edges, tolerance_m=50, only_nodes=mask)
    assert _pairs(_connectors(out)) == {(0, 9)}


def test_repair_never_duplicates_an_edge_nor_loops():
    """Candidate 10 is entered from grid node 0 already: its entry comes from the next node."""
    xy = np.r_[_grid_xy(), [[0, -30], [100, -30]]]
    nodes, edges = _network(xy, one_way=[(0, 9), (9, 10)], two_way=_grid_links())
    # 9: entered from 0 (giant), exits to 10 (sink). Candidate 9 wants exit + entry.
    out, summary = repair_dangling(nodes, edges, tolerance_m=150, candidates=[9], k=4)
    con = _pairs(_connectors(out))
    assert (0, 9) not in con  # exists already
    assert (9, 0) in con  # exit to the nearest giant node
    entry = [p for p in con if p[1] == 9]
    assert entry == [(1, 9)]  # next nearest giant node (1) instead of 0
    assert (10, 1) in con  # sink 10 exits to its nearest giant node
    assert all(a != b for a, b in con)
    assert not out.duplicated(["u", "v"]).any()
    # the existing 0 -> 9 is now two-way
    row = out[(out["u"] == 0) & (out["v"] == 9) & ~out["repaired"]]
    assert not row["oneway"].iloc[0]


def test_repair_geodataframe_columns():
    import geopandas as gpd

    xy = np.r_[_grid_xy(), [[0, -40], [100, -40]]]
    nodes, edges = _network(xy, one_way=[(9, 10)], two_way=_grid_links())
    ids = nodes["node_id"].to_numpy()
    lonlat = nodes[["lon", "lat"]].to_numpy()
    edges = gpd.GeoDataFrame(
        edges.assign(
            from_node=ids[edges["u"]], to_node=ids[edges["v"]], edge_id=np.arange(len(edges)),
            flag=True, name=None,
        ),
        geometry=shapely.linestrings(np.stack([lonlat[edges["u"]], lonlat[edges["v"]]], 1)),
        crs="EPSG:4326",
    )
    out, _ = repair_dangling(nodes, edges, tolerance_m=50)
    assert isinstance(out, gpd.GeoDataFrame) and out.crs.to_epsg() == 4326
    con = _connectors(out)
    assert len(con) == 2
    assert out["u"].dtype == np.int64 and out["from_node"].dtype == np.int64
    np.testing.assert_array_equal(con["from_node"], ids[con["u"]])
    np.testing.assert_array_equal(con["to_node"], ids[con["v"]])
    start = shapely.get_coordinates(shapely.get_point(con.geometry.to_numpy(), 0))
    end = shapely.get_coordinates(shapely.get_point(con.geometry.to_numpy(), -1))
    np.testing.assert_allclose(start, lonlat[con["u"]])
    np.testing.assert_allclose(end, lonlat[con["v"]])
    assert con["edge_id"].isna().all() and out["edge_id"].iloc[0] == 0
    assert con["flag"].isna().all() and out["flag"].iloc[0]


def test_repair_no_giant_nodes_in_reach_and_bad_input(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    with pytest.raises(InputError, match="tolerance_m"):
        repair_dangling(nodes, edges, tolerance_m=0)
    with pytest.raises(InputError, match="column 'x'"):
        repair_dangling(nodes.drop(columns="x"), edges)
    bad = edges.copy()
    bad.loc[0, "v"] = 99
    with pytest.raises(InputError, match="column 'v'"):
        qa_report(nodes, bad)
    with pytest.raises(InputError, match="candidates"):
        repair_dangling(nodes, edges, candidates=np.zeros(3, bool))


# ---------------------------------------------------------------------------------------------
# largest_strong_component
# ---------------------------------------------------------------------------------------------
def test_largest_strong_component_reindexes(grid_with_carriageway):
    nodes, edges = grid_with_carriageway
    # move the grid to the end so positions really change: carriageway first
    order = np.r_[9:14, 0:9]
    new_pos = np.empty(14, np.int64)
    new_pos[order] = np.arange(14)
    nodes = nodes.iloc[order].reset_index(drop=True)
    edges = edges.assign(u=new_pos[edges["u"]], v=new_pos[edges["v"]])
    sub_nodes, sub_edges, dropped = largest_strong_component(nodes, edges)
    assert len(sub_nodes) == 9 and list(sub_nodes.index) == list(range(9))
    assert len(sub_edges) == 24 and list(sub_edges.index) == list(range(24))
    assert sub_edges["u"].between(0, 8).all() and sub_edges["v"].between(0, 8).all()
    assert set(sub_nodes["node_id"]) == set(range(1000, 1009))
    # same roads: compare by node_id
    ids_in = nodes["node_id"].to_numpy()
    ids_out = sub_nodes["node_id"].to_numpy()
    got = set(zip(ids_out[sub_edges["u"]], ids_out[sub_edges["v"]]))
    kept = edges[edges["u"] >= 5]
    assert got == set(zip(ids_in[kept["u"]], ids_in[kept["v"]]))
    assert dropped["nodes"] == 5 and dropped["edges"] == 4
    assert dropped["km"] == pytest.approx(0.2)
    assert dropped["share_km"] == pytest.approx(0.2 / 2.6)
    assert qa_report(sub_nodes, sub_edges)["strong_components"] == 1


def test_largest_strong_component_empty():
    nodes, edges = _network(_grid_xy(1))
    with pytest.raises(NetworkError, match="no edges"):
        largest_strong_component(nodes, edges)


# ---------------------------------------------------------------------------------------------
# integration: the shared south-east Beijing layer
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def se_beijing():
    path = settings.data_dir() / SE_ROADS
    if not path.exists():
        pytest.skip(f"shared SE-Beijing road layer not found at {path}; set "
                    "PLANNER_DATA_DIR=../shared/data to run this test")
    gpd = pytest.importorskip("geopandas")
    edges = gpd.read_file(path, layer="edges", engine="pyogrio")
    junctions = gpd.read_file(path, layer="junctions", engine="pyogrio")
    junctions = junctions.sort_values("node_id").reset_index(drop=True)
    metric = gpd.GeoSeries(gpd.points_from_xy(junctions["lon"], junctions["lat"]),
                           crs="EPSG:4326").to_crs(settings.BEIJING_METRIC_CRS)
    nodes = pd.DataFrame({
        "node_id": junctions["node_id"].to_numpy(np.int64),
        "lon": junctions["lon"].to_numpy(),
        "lat": junctions["lat"].to_numpy(),
        "x": metric.x.to_numpy(),
        "y": metric.y.to_numpy(),
    })
    index = pd.Index(nodes["node_id"])
    edges["u"] = index.get_indexer(edges["from_node"])
    edges["v"] = index.get_indexer(edges["to_node"])
    assert (edges["u"] >= 0).all() and (edges["v"] >= 0).all()
    return nodes, edges, junctions


@pytest.mark.shared_data
def test_se_beijing_qa_and_repair(se_beijing):
    nodes, edges, junctions = se_beijing
    tolerance = 250.0

    qa = qa_report(nodes, edges)
    giant = qa["giant"]
    print(f"\nSE Beijing QA: {qa['nodes']} nodes, {qa['edges']} edges, {qa['km']:.0f} km; "
          f"{qa['strong_components']} SCCs, {qa['weak_components']} weak components; giant "
          f"SCC {giant['nodes']} nodes, {giant['edges']} edges ({giant['share_edges']:.1%}), "
          f"{giant['km']:.0f} km ({giant['share_km']:.1%}); dead ends {qa['dead_ends']}; "
          f"fragments {qa['fragments']}; unclassified {qa['unclassified']}")
    # SOURCE.md: the giant SCC holds 96.3 % of edges and 93.7 % of length
    assert giant["share_edges"] == pytest.approx(0.963, abs=0.001)
    assert giant["share_km"] == pytest.approx(0.937, abs=0.001)
    node_in_giant, edge_in_giant = giant_component(nodes, edges)
    np.testing.assert_array_equal(edge_in_giant, edges["in_giant_scc"].to_numpy(bool))
    np.testing.assert_array_equal(node_in_giant, junctions["in_giant_scc"].to_numpy(bool))
    assert qa["fragments"]["oneway_dead"] > 0

    ramps = junctions["ramp_attach_inferred"].to_numpy(bool)
    out, summary = repair_dangling(nodes, edges, tolerance_m=tolerance, candidates=ramps)
    before, after = summary["giant_before"], summary["giant_after"]
    print(f"SE Beijing repair (tolerance {tolerance:.0f} m, {ramps.sum()} ramp candidates): "
          f"{summary['connectors']} connectors ({summary['exits']} exits, "
          f"{summary['entries']} entries), {summary['km']:.1f} km, longest "
          f"{summary['max_m']:.0f} m, unmatched {summary['unmatched_exits']}/"
          f"{summary['unmatched_entries']}; giant SCC edges {before['share_edges']:.1%} -> "
          f"{after['share_edges']:.1%}, km {before['km']:.0f} -> {after['km']:.0f} "
          f"({before['share_km']:.1%} -> {after['share_km']:.1%}), nodes {before['nodes']} -> "
          f"{after['nodes']}")
    assert after["edges"] > before["edges"] and after["km"] > before["km"]
    assert after["share_edges"] > 0.99

    con = _connectors(out)
    assert len(con) == summary["connectors"] > 0
    assert (con["length_m"] <= tolerance).all()
    xy = nodes[["x", "y"]].to_numpy()
    cu, cv = con["u"].to_numpy(), con["v"].to_numpy()
    np.testing.assert_allclose(con["length_m"], np.hypot(*(xy[cu] - xy[cv]).T), atol=1e-6)
    # direction: exits leave a non-giant node for a giant one, entries the other way round
    in_giant = node_in_giant
    assert (in_giant[cu] ^ in_giant[cv]).all()
    indeg = np.bincount(edges["v"], minlength=len(nodes))
    outdeg = np.bincount(edges["u"], minlength=len(nodes))
    exits_from, entries_to = cu[~in_giant[cu]], cv[~in_giant[cv]]
    assert ((outdeg[exits_from] == 0) | ramps[exits_from]).all()
    assert ((indeg[entries_to] == 0) | ramps[entries_to]).all()
    assert out.duplicated(["u", "v"]).sum() == edges.duplicated(["u", "v"]).sum()
    np.testing.assert_array_equal(con["from_node"], nodes["node_id"].to_numpy()[cu])

    sub_nodes, sub_edges, dropped = largest_strong_component(nodes, out)
    print(f"SE Beijing after repair, giant SCC only: {len(sub_nodes)} nodes, {len(sub_edges)} "
          f"edges; dropped {dropped['edges']} edges, {dropped['km']:.1f} km "
          f"({dropped['share_km']:.2%} of length)")
    assert len(sub_edges) == after["edges"]
    assert qa_report(sub_nodes, sub_edges)["strong_components"] == 1
