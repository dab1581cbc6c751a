import networkx as nx
import numpy as np
import pytest

from planner.errors import PlannerError, SnapError
from planner.network.graph import build_network
from planner.network.speeds import Profile
from planner.routing import csr_travel_times, snap, travel_times
from tests._helpers import LAT0, LON0, raw_tables


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
    full = csr_travel_times(csr, src, cutoff_s=150, engine="dijkstra")
    monkeypatch.setattr(routing, "BLOCK_CELLS", 450)  # two sources per block
    blocked = csr_travel_times(csr, src, tgt, cutoff_s=150, engine="dijkstra")
    np.testing.assert_array_equal(blocked, full[:, tgt])


def test_snap_reports_distance_and_refuses_far_points(grid_network):
    net = grid_network
    nodes, snap_m = snap(net, [LON0 + 0.0001, LON0 + 0.002, LON0 + 0.0008], [LAT0, LAT0 + 0.002, LAT0 - 0.0001])
    # on the road 0-1, ~8.5 m east of node 0: distance to the road 0, nearest end node 0
    assert net.nodes.node_id[nodes[0]] == 0 and snap_m[0] < 1e-3
    assert net.nodes.node_id[nodes[1]] == 12 and snap_m[1] < 1e-6
    # ~11 m south of the road 0-1, nearer its end 1: the distance to the road, not to node 1
    assert net.nodes.node_id[nodes[2]] == 1 and 10.5 < snap_m[2] < 11.7
    with pytest.raises(SnapError, match=r"1 point\(s\).*far-away"):
        snap(net, [LON0, LON0 + 0.05], [LAT0, LAT0], max_snap_m=200, ids=["ok", "far-away"])


def test_bad_arguments_raise_planner_errors(grid_network):
    with pytest.raises(PlannerError, match="direction"):
        travel_times(grid_network, [0], direction="sideways")
    with pytest.raises(PlannerError, match="unknown profile 'night'"):
        travel_times(grid_network, [0], profile="night")
    with pytest.raises(PlannerError, match="out of range"):
        travel_times(grid_network, [10_000])


# ------------------------------------------------------------------ contracted engine (exactness)
def _plain(csr, sources, targets=None, cutoff=np.inf):
    """The plain Dijkstra kernel: the reference for the contracted engine."""
    from planner.routing import _plain_travel_times

    sources = np.asarray(sources, np.int64)
    width = csr.shape[0] if targets is None else len(targets)
    out = np.empty((len(sources), width))
    return _plain_travel_times(csr, sources, None if targets is None else np.asarray(targets, np.int64), cutoff, out)


def _contracted(csr, sources, targets=None, cutoff=np.inf, core_size=0):
    from planner.routing import _hierarchy as _contract

    h, why_not = _contract.build_hierarchy(csr, core_size)
    assert h is not None, why_not
    sources = np.asarray(sources, np.int64)
    targets = None if targets is None else np.asarray(targets, np.int64)
    out = np.full((len(sources), csr.shape[0] if targets is None else len(targets)), -1.0)
    _contract.many_to_all(h, sources, targets, cutoff, out)
    return out


def _assert_same(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    fin = np.isfinite(a)
    assert np.abs(a[fin] - b[fin]).max(initial=0.0) <= 1e-9


def _road_like_arcs(seed, n_junctions=40):
    """Arcs of a random road-like graph full of what contraction removes.

    Junctions joined by plain two-way and one-way roads and by one-way and two-way chains of
    pass-through nodes (different times per direction), loops, dead-end spurs and trees, parallel
    arcs, self-loops, zero-time arcs, plus parts that cannot be reached (an island, a sink-only and
    a source-only node, an isolated node).
    """
    rng = np.random.default_rng(seed)
    arcs = []
    nxt = [n_junctions]

    def new():
        nxt[0] += 1
        return nxt[0] - 1

    def w():
        return float(rng.uniform(0.5, 60.0))

    def chain(a, b, k, two_way):
        path = [a] + [new() for _ in range(k)] + [b]
        for p, q in zip(path[:-1], path[1:]):
            arcs.append((p, q, w()))
            if two_way:
                arcs.append((q, p, w()))
        return path

    ring = rng.permutation(n_junctions)  # a two-way ring keeps the junctions connected
    for a, b in zip(ring, np.roll(ring, 1)):
        chain(a, b, int(rng.integers(0, 3)), True)
    for _ in range(2 * n_junctions):
        a, b = (int(x) for x in rng.choice(n_junctions, 2, replace=False))
        kind = rng.integers(0, 4)
        chain(a, b, 0 if kind < 2 else int(rng.integers(1, 6)), two_way=bool(kind % 2))
    for _ in range(4):  # loops leaving and re-entering the same junction
        a = int(rng.integers(n_junctions))
        chain(a, a, int(rng.integers(2, 5)), two_way=bool(rng.integers(2)))
    for _ in range(8):  # dead-end spurs, some branching into small trees
        spur = chain(int(rng.integers(n_junctions)), new(), int(rng.integers(0, 3)), True)
        if rng.random() < 0.5:
            chain(spur[-1], new(), int(rng.integers(0, 2)), True)
            chain(spur[-1], new(), 0, True)
    for _ in range(10):  # parallel arcs (slower and faster duplicates)
        a, b, c = arcs[int(rng.integers(len(arcs)))]
        arcs.append((a, b, c * rng.choice([0.5, 2.0])))
    for _ in range(3):
        a = int(rng.integers(nxt[0]))
        arcs.append((a, a, 1.0))  # self-loop
        arcs.append((a, int(rng.integers(nxt[0])), 0.0))  # zero-time arc
    island = [new() for _ in range(4)]
    for a, b in zip(island, island[1:] + island[:1]):
        arcs.append((a, b, w()))
    sink, spring, _alone = new(), new(), new()  # _alone: an isolated node
    arcs.append((int(rng.integers(n_junctions)), sink, w()))
    arcs.append((spring, int(rng.integers(n_junctions)), w()))
    u, v, c = (np.array(x) for x in zip(*arcs))
    return u.astype(np.int64), v.astype(np.int64), c.astype(float), nxt[0]


def _raw_csr(u, v, w, n):
    """CSR keeping parallel arcs and self-loops as separate entries (scipy would sum duplicates)."""
    import scipy.sparse as sp

    order = np.argsort(u, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.add.at(indptr, u + 1, 1)
    return sp.csr_matrix((w[order], v[order].astype(np.int32), np.cumsum(indptr)), shape=(n, n))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("core_size", [0, 6, 10_000])
def test_contracted_engine_matches_plain_kernel_on_chains(seed, core_size):
    from planner.network.graph import _csr_min
    from planner.routing._hierarchy import build_hierarchy

    u, v, w, n = _road_like_arcs(seed)
    rng = np.random.default_rng(seed)
    targets = rng.choice(n, 37)  # repeats allowed, chain nodes included
    assert build_hierarchy(_csr_min(u, v, w, n), core_size)[0].n_core == min(core_size, n)  # contracted to the core
    for csr in (_csr_min(u, v, w, n), _raw_csr(u, v, w, n)):
        for graph in (csr, csr.T.tocsr()):  # both directions
            sources = np.arange(n)  # every node, chain interiors and dead ends included
            for cutoff in (np.inf, 90.0):
                ref = _plain(graph, sources, None, cutoff)
                _assert_same(_contracted(graph, sources, None, cutoff, core_size), ref)
                _assert_same(_contracted(graph, sources[::-3], targets, cutoff, core_size), ref[::-3][:, targets])
                reached = np.isfinite(ref).mean()
                assert 0.05 < reached < (0.99 if cutoff == np.inf else 0.5)  # unreachable parts; cutoff bites


def test_contracted_engine_matches_networkx_on_chains():
    from planner.network.graph import _csr_min

    u, v, w, n = _road_like_arcs(11, n_junctions=60)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b, c in zip(u, v, w):
        if a != b and (not g.has_edge(a, b) or g[a][b]["w"] > c):
            g.add_edge(int(a), int(b), w=c)
    csr = _csr_min(u, v, w, n)
    src = np.arange(0, n, 5)
    for cutoff in (None, 75.0):
        ours = _contracted(csr, src, cutoff=np.inf if cutoff is None else cutoff, core_size=0)
        for i, s in enumerate(src):
            d = nx.single_source_dijkstra_path_length(g, int(s), cutoff=cutoff, weight="w")
            expected = np.array([d.get(k, np.inf) for k in range(n)])
            np.testing.assert_array_equal(np.isinf(ours[i]), np.isinf(expected))
            np.testing.assert_allclose(ours[i], expected, atol=1e-9)


def test_public_api_switches_engine_without_changing_results():
    import planner.routing._hierarchy as contract
    from planner.network.graph import _csr_min

    u, v, w, n = _road_like_arcs(5)
    csr = _csr_min(u, v, w, n)
    src = np.arange(0, n, 2)
    tgt = np.array([n - 1, 0, 3, 3])
    contract._cache.clear()
    results, log = {}, []
    for engine in ("dijkstra", "reverse-dijkstra", "hierarchy"):
        results[engine] = csr_travel_times(csr, src, tgt, cutoff_s=80, engine=engine, engine_log=log)
    assert [c.engine for c in log] == ["dijkstra", "reverse-dijkstra", "hierarchy"]
    assert all(c.reason == "requested" for c in log)
    for t in results.values():
        _assert_same(t, results["dijkstra"])
        assert t.dtype == np.float64 and t.shape == (len(src), len(tgt))
    assert csr_travel_times(csr, [], cutoff_s=80).shape == (0, n)


def test_hierarchy_cache_follows_the_matrix_content():
    import planner.routing._hierarchy as contract
    from planner.network.graph import _csr_min

    u, v, w, n = _road_like_arcs(6)
    csr = _csr_min(u, v, w, n)
    h, _ = contract.hierarchy_for(csr, 4)
    assert contract.hierarchy_for(csr, 4)[0] is h  # cached
    slower = csr.copy()
    slower.data = slower.data * 2.0  # e.g. another profile: same arcs, other times
    h2, _ = contract.hierarchy_for(slower, 4)
    assert h2 is not h
    out = np.empty((3, n))
    contract.many_to_all(h2, np.arange(3), None, np.inf, out)
    _assert_same(out, _plain(slower, np.arange(3)))


def test_negative_graphs_fall_back_to_the_plain_kernel_and_say_so(caplog):
    import scipy.sparse as sp

    import planner.routing._hierarchy as contract

    neg = sp.csr_matrix(np.array([[0.0, -1.0], [1.0, 0.0]]))
    assert contract.not_contractible(neg) == "negative travel times"
    log = []
    with caplog.at_level("WARNING", logger="planner.routing"):
        csr_travel_times(neg, [0], engine="hierarchy", engine_log=log)
    assert log[0].engine == "dijkstra" and "negative travel times" in log[0].reason
    assert "no contraction hierarchy (negative travel times)" in caplog.text
    # a star (one node with many arcs) contracts now: no degree cap
    hub = 40
    rows = np.r_[np.zeros(hub, int), np.arange(1, hub + 1)]
    cols = np.r_[np.arange(1, hub + 1), np.zeros(hub, int)]
    star = sp.csr_matrix((np.ones(2 * hub), (rows, cols)), shape=(hub + 1, hub + 1))
    t = csr_travel_times(star, [1, 2], engine="hierarchy", engine_log=log)
    assert log[-1].engine == "hierarchy"
    assert t[0, 0] == 1.0 and t[0, 2] == 2.0 and t[1, 1] == 2.0


@pytest.fixture(scope="module")
def demo_network(shared_data):
    import os
    from pathlib import Path

    from planner.pipeline.network import network_for_scenario
    from planner.scenario import load_scenario

    old = os.environ.get("PLANNER_DATA_DIR")
    os.environ["PLANNER_DATA_DIR"] = str(shared_data)
    try:
        return network_for_scenario(load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "yizhuang.toml"))
    finally:
        if old is None:
            os.environ.pop("PLANNER_DATA_DIR", None)
        else:
            os.environ["PLANNER_DATA_DIR"] = old


@pytest.mark.shared_data
@pytest.mark.parametrize("direction", ["from", "to"])
def test_contracted_engine_matches_plain_kernel_on_the_demo_network(demo_network, direction):
    net = demo_network
    rng = np.random.default_rng(3)
    src = rng.choice(net.n_nodes, 131, replace=False)
    for profile in ("offpeak", "truck"):  # truck: closed roads leave many nodes unreachable
        csr = net.csr(profile, reverse=direction == "to")
        for cutoff in (None, 45 * 60.0):
            log = []
            ours = travel_times(net, src, profile=profile, direction=direction, cutoff_s=cutoff, engine="hierarchy",
                                engine_log=log)
            assert log[0].engine == "hierarchy"
            _assert_same(ours, _plain(csr, src, None, np.inf if cutoff is None else cutoff))
