import networkx as nx
import numpy as np
import pytest

from planner.errors import PlannerError, SnapError
from planner.network.graph import build_network
from planner.network.speeds import Profile
from planner.routing import csr_travel_times, snap, travel_times
from tests.conftest import LAT0, LON0, grid_tables, raw_tables


def _pos(net, node_id):
    return int(np.flatnonzero(net.nodes.node_id.to_numpy() == node_id)[0])


def test_grid_times_are_manhattan(grid_network):
    net = grid_network
    src = _pos(net, 0)
    t = travel_times(net, [src], profile="offpeak")[0]
    ids = net.nodes.node_id.to_numpy()
    expected = 10.0 * (ids // 5 + ids % 5)
    np.testing.assert_allclose(t, expected, atol=1e-9)


def test_cutoff_reports_inf_beyond(grid_network):
    net = grid_network
    t = travel_times(net, [_pos(net, 0)], profile="offpeak", cutoff_s=30)[0]
    ids = net.nodes.node_id.to_numpy()
    hops = ids // 5 + ids % 5
    assert np.all(np.isinf(t[hops > 3]))
    np.testing.assert_allclose(t[hops <= 3], 10.0 * hops[hops <= 3])


def test_one_way_street_makes_directions_differ():
    # a → b is a one-way 100 m street; going back from b to a needs the 300 m detour b → c → d → a
    xy = {1: (LON0, LAT0), 2: (LON0 + 0.001, LAT0), 3: (LON0 + 0.001, LAT0 + 0.001), 4: (LON0, LAT0 + 0.001)}
    arcs = [(1, 2, 100.0), (2, 3, 100.0), (3, 4, 100.0), (4, 1, 100.0), (3, 2, 100.0), (4, 3, 100.0), (1, 4, 100.0)]
    nodes, edges = raw_tables(xy, arcs)
    net = build_network(nodes, edges, {"p": Profile("p", speeds_kmh={}, fallback_kmh=36.0)})
    a, b = _pos(net, 1), _pos(net, 2)
    frm = travel_times(net, [a], [b], profile="p", direction="from")[0, 0]
    to = travel_times(net, [a], [b], profile="p", direction="to")[0, 0]
    assert frm == pytest.approx(10.0)  # a → b direct
    assert to == pytest.approx(30.0)  # b → a: b → c → d → a


def test_unreachable_is_inf_not_sentinel():
    import scipy.sparse as sp

    # 0 → 1, and 2 isolated
    csr = sp.csr_matrix((np.array([5.0]), (np.array([0]), np.array([1]))), shape=(3, 3))
    t = csr_travel_times(csr, [0, 2])
    assert t[0, 1] == 5.0 and np.isinf(t[0, 2]) and np.isinf(t[1, 0])
    assert t[1, 2] == 0.0


def test_parallel_edges_keep_fastest():
    xy = {1: (LON0, LAT0), 2: (LON0 + 0.001, LAT0)}
    nodes, edges = raw_tables(xy, [(1, 2, 300.0), (1, 2, 100.0), (2, 1, 100.0)])
    net = build_network(nodes, edges, {"p": Profile("p", speeds_kmh={}, fallback_kmh=36.0)})
    assert travel_times(net, [_pos(net, 1)], [_pos(net, 2)], profile="p")[0, 0] == pytest.approx(10.0)


def _random_csr(n, m, seed):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    keep = u != v
    w = rng.uniform(0.5, 100.0, m)
    return sp.csr_matrix((w[keep], (u[keep], v[keep])), shape=(n, n)), u[keep], v[keep], w[keep]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_networkx_both_directions(seed):
    from planner.network.graph import _csr_min

    n = 300
    _, u, v, w = _random_csr(n, 1200, seed)
    csr = _csr_min(u, v, w, n)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b, c in zip(u, v, w):
        if not g.has_edge(a, b) or g[a][b]["w"] > c:
            g.add_edge(a, b, w=c)
    rng = np.random.default_rng(seed + 10)
    src = rng.choice(n, 8, replace=False)
    fwd = csr_travel_times(csr, src)
    bwd = csr_travel_times(csr.T.tocsr(), src)
    for i, s in enumerate(src):
        d_from = nx.single_source_dijkstra_path_length(g, s, weight="w")
        d_to = nx.single_source_dijkstra_path_length(g.reverse(copy=False), s, weight="w")
        exp_from = np.array([d_from.get(k, np.inf) for k in range(n)])
        exp_to = np.array([d_to.get(k, np.inf) for k in range(n)])
        np.testing.assert_allclose(fwd[i], exp_from, atol=1e-6)
        np.testing.assert_allclose(bwd[i], exp_to, atol=1e-6)


def test_blocks_and_target_subsets_agree(monkeypatch):
    import planner.routing as routing

    csr, *_ = _random_csr(200, 900, 5)
    src = np.arange(0, 200, 7)
    tgt = np.array([3, 5, 199, 0, 3])
    full = csr_travel_times(csr, src, cutoff_s=150)
    monkeypatch.setattr(routing, "BLOCK_CELLS", 450)  # two sources per block
    blocked = csr_travel_times(csr, src, tgt, cutoff_s=150)
    np.testing.assert_array_equal(blocked, full[:, tgt])


def test_snap_reports_distance_and_refuses_far_points(grid_network):
    net = grid_network
    nodes, snap_m = snap(net, [LON0 + 0.0001, LON0 + 0.002], [LAT0, LAT0 + 0.002])
    assert net.nodes.node_id[nodes[0]] == 0 and 5 < snap_m[0] < 12  # ~8.5 m east of node 0
    assert net.nodes.node_id[nodes[1]] == 12 and snap_m[1] < 1e-6
    with pytest.raises(SnapError, match=r"1 point\(s\).*far-away"):
        snap(net, [LON0, LON0 + 0.05], [LAT0, LAT0], max_snap_m=200, ids=["ok", "far-away"])


def test_bad_arguments_raise_planner_errors(grid_network):
    with pytest.raises(PlannerError, match="direction"):
        travel_times(grid_network, [0], direction="sideways")
    with pytest.raises(PlannerError, match="unknown profile 'night'"):
        travel_times(grid_network, [0], profile="night")
    with pytest.raises(PlannerError, match="out of range"):
        travel_times(grid_network, [10_000])
