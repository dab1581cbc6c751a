"""The demo network on the shared SE-Beijing layer: repair, cache, export, and an independent check."""
from pathlib import Path

import networkx as nx
import numpy as np
import pyogrio
import pytest

from planner.network.graph import export_network
from planner.pipeline.network import network_for_scenario
from planner.routing import travel_times
from planner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(shared_data, tmp_path_factory):
    import os

    old = os.environ.get("PLANNER_DATA_DIR")
    os.environ["PLANNER_DATA_DIR"] = str(shared_data)
    try:
        sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
        net = network_for_scenario(sc)
    finally:
        if old is None:
            os.environ.pop("PLANNER_DATA_DIR", None)
        else:
            os.environ["PLANNER_DATA_DIR"] = old
    return sc, net


def test_repair_joins_the_cut_expressways_and_flags_connectors(demo):
    _, net = demo
    rep = net.report
    before = rep["qa_before"]["giant"]["share_km"]
    after = rep["repair"]["giant_after"]["share_km"]
    assert before == pytest.approx(0.9365, abs=0.002)  # SOURCE.md: giant SCC holds 93.7 % of length
    assert after > before + 0.03
    rep_edges = net.edges[net.edges.repaired]
    assert len(rep_edges) > 0 and (rep_edges.road_class == "connector").all()
    assert rep_edges.length_m.max() <= 250.0 + 1e-6
    assert (~net.edges.repaired & (net.edges.road_class == "connector")).sum() == 0


def test_cache_is_hit_second_time(demo, shared_data, monkeypatch):
    sc, _ = demo
    monkeypatch.setenv("PLANNER_DATA_DIR", str(shared_data))
    again = network_for_scenario(sc)
    assert again.report["cache"]["hit"] is True


def test_times_equal_networkx_on_the_exported_network(demo, tmp_path):
    _, net = demo
    path = export_network(net, tmp_path / "edges.gpkg")
    e = pyogrio.read_dataframe(path, layer="edges", read_geometry=False)
    nodes = pyogrio.read_dataframe(path, layer="nodes", read_geometry=False)
    assert len(nodes) == net.n_nodes and len(e) == len(net.edges)
    rng = np.random.default_rng(7)
    src = rng.choice(net.n_nodes, 4, replace=False)
    tgt = rng.choice(net.n_nodes, 300, replace=False)
    for profile in net.profiles:
        col = f"travel_time_s_{profile}"
        g = nx.DiGraph()
        ok = np.isfinite(e[col].to_numpy())
        for a, b, w in zip(e.u[ok], e.v[ok], e[col][ok]):
            if not g.has_edge(a, b) or g[a][b]["w"] > w:
                g.add_edge(a, b, w=w)
        for direction, graph in (("from", g), ("to", g.reverse(copy=False))):
            ours = travel_times(net, src, tgt, profile=profile, direction=direction)
            for i, s in enumerate(src):
                ref = nx.single_source_dijkstra_path_length(graph, int(s), weight="w") if s in graph else {}
                expected = np.array([ref.get(int(t), np.inf) for t in tgt])
                np.testing.assert_allclose(ours[i], expected, atol=1e-6, err_msg=f"{profile} {direction}")
