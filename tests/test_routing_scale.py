"""Routing at scale: the density-driven core, engine choice, float32 and blocked results.

The reference is scipy.sparse.csgraph.dijkstra (an independent implementation).
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

import planner.routing._hierarchy as contract
import planner.routing._within as within
from planner.errors import PlannerError
from planner.routing import choose_engine, csr_iter_travel_times, csr_travel_times


def _street_grid(side, seed):
    """A perturbed street grid: random times, ~10 % of blocks missing, ~25 % one-way streets."""
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) > 0.1
    u, v = u[keep], v[keep]
    oneway = rng.random(len(u)) < 0.25
    flip = rng.random(len(u)) < 0.5
    a = np.where(flip, v, u)
    b = np.where(flip, u, v)
    rows = np.r_[a, b[~oneway]]
    cols = np.r_[b, a[~oneway]]
    w = rng.uniform(5.0, 60.0, len(rows))
    return sp.csr_matrix((w, (rows, cols)), shape=(side * side, side * side))


def _same(a, b, atol=1e-6):
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    fin = np.isfinite(a)
    assert np.abs(a[fin] - b[fin]).max(initial=0.0) <= atol


@pytest.mark.parametrize("side, seed", [(12, 0), (40, 1), (110, 2)])
def test_default_core_rule_matches_scipy_on_street_grids(side, seed):
    csr = _street_grid(side, seed)
    n = csr.shape[0]
    h, why_not = contract.build_hierarchy(csr)  # the default, density-driven core rule
    assert h is not None, why_not
    assert h.n_core == min(n, contract.CORE_MIN) or contract.CORE_MIN < h.n_core <= contract.CORE_MAX
    rng = np.random.default_rng(seed)
    src = rng.choice(n, 40, replace=False)
    tgt = rng.choice(n, 25)
    for cutoff in (np.inf, 600.0):
        ref = dijkstra(csr, indices=src, limit=cutoff)
        out = np.empty((len(src), n))
        contract.many_to_all(h, src, None, cutoff, out)
        _same(out, ref)
        sub = np.empty((len(src), len(tgt)))
        contract.many_to_all(h, src, tgt, cutoff, sub)
        _same(sub, ref[:, tgt])


def test_density_stop_leaves_a_core_between_the_bounds(monkeypatch):
    # small bounds so that a 2,500-node grid stops on density, not on the minimum
    monkeypatch.setattr(contract, "CORE_MIN", 20)
    monkeypatch.setattr(contract, "CORE_MAX", 600)
    monkeypatch.setattr(contract, "DENSE_DEGREE", 5.0)
    csr = _street_grid(50, 7)
    h, _ = contract.build_hierarchy(csr)
    assert 20 < h.n_core <= 600
    src = np.arange(0, csr.shape[0], 37)
    out = np.empty((len(src), csr.shape[0]))
    contract.many_to_all(h, src, None, np.inf, out)
    _same(out, dijkstra(csr, indices=src))


def test_dense_random_graph_is_refused_with_a_reason():
    rng = np.random.default_rng(0)
    n = 5000  # an expander, not a road network: its remainder gets dense while large
    u, v = rng.integers(0, n, 20 * n), rng.integers(0, n, 20 * n)
    csr = sp.csr_matrix((rng.uniform(1, 10, len(u)), (u, v)), shape=(n, n))
    h, why_not = contract.build_hierarchy(csr)
    assert h is None and "dense core" in why_not
    contract._cache.clear()
    log = []
    src = np.arange(3)
    t = csr_travel_times(csr, src, engine="hierarchy", engine_log=log)
    assert log[0].engine == "dijkstra" and log[0].reason.startswith("no contraction hierarchy (the contraction")
    csr.sum_duplicates()
    _same(t, dijkstra(csr, indices=src))


def test_engine_follows_the_cost():
    csr = _street_grid(60, 3)
    n = csr.shape[0]
    contract._cache.clear()
    rng = np.random.default_rng(1)
    # few sources, all targets, nothing cached: plain searches (a build would not pay)
    assert choose_engine(csr, 3)[0].engine == "dijkstra"
    # many sources, three targets: three reverse searches
    log = []
    src = rng.choice(n, 200, replace=False)
    plants = np.array([5, 77, 3000])
    t = csr_travel_times(csr, src, plants, engine_log=log)
    assert log[0].engine == "reverse-dijkstra" and "3 reverse searches" in log[0].reason
    _same(t, dijkstra(csr, indices=src)[:, plants])
    # many sources to all nodes: build the hierarchy; afterwards it is used even for 5 sources
    assert choose_engine(csr, 2000)[0].engine == "hierarchy"
    choice, h = choose_engine(csr, 5)
    assert choice.engine == "hierarchy" and "cached hierarchy" in choice.reason and h is not None
    log = []
    few = csr_travel_times(csr, src[:5], engine_log=log)
    assert log[0].engine == "hierarchy"
    _same(few, dijkstra(csr, indices=src[:5]))
    assert set(log[0].as_dict()) == {"engine", "reason", "n_sources", "n_targets", "estimates_s"}


@pytest.mark.parametrize("engine", ["dijkstra", "reverse-dijkstra", "hierarchy"])
def test_float32_and_blocks_equal_the_dense_result(engine):
    csr = _street_grid(30, 4)
    n = csr.shape[0]
    src = np.arange(0, n, 11)
    tgt = np.array([0, 5, 899, 5, 450])
    for targets in (None, tgt):
        if targets is None and engine == "reverse-dijkstra":
            continue  # every node as a target: the reverse engine is meant for few targets
        dense = csr_travel_times(csr, src, targets, cutoff_s=400, engine=engine)
        single = csr_travel_times(csr, src, targets, cutoff_s=400, dtype=np.float32, engine=engine)
        assert single.dtype == np.float32
        np.testing.assert_array_equal(single, dense.astype(np.float32))
        starts, blocks = [], []
        for start, block in csr_iter_travel_times(csr, src, targets, cutoff_s=400, block_rows=7, engine=engine):
            starts.append(start)
            blocks.append(block)
        assert starts == list(range(0, len(src), 7)) and all(len(b) <= 7 for b in blocks)
        # a block may be answered by the bounded sweep where the whole request handed over to the
        # full one: the same paths, summed in another order (~1e-13 s)
        _same(np.vstack(blocks), dense, atol=1e-9)


# ------------------------------------------------- bounded sweep (cutoff) and sparse results
@pytest.mark.parametrize("side, seed, core_size", [(40, 3, None), (60, 4, 0), (60, 5, 300)])
@pytest.mark.parametrize("cutoff", [0.0, 45.0, 400.0, 1500.0])
def test_bounded_sweep_matches_scipy(side, seed, core_size, cutoff):
    # sources in no particular order, with duplicates, a node of the core and a node on no arc
    csr = _street_grid(side, seed)
    n = csr.shape[0]
    csr = sp.csr_matrix((csr.data, csr.indices, np.r_[csr.indptr, csr.indptr[-1]]), shape=(n + 1, n + 1))
    h, why_not = contract.build_hierarchy(csr, core_size)
    assert h is not None, why_not
    rng = np.random.default_rng(seed)
    src = np.r_[rng.choice(n, 37, replace=False), 5, 5, n, int(np.flatnonzero(h.internal == 0)[0])]
    ref = dijkstra(csr, indices=src, limit=cutoff)
    out = np.full((len(src), n + 1), -1.0)
    within.many_within(h, src, cutoff, out)
    _same(out, ref)
    assert all(len(a) == 0 for a in within.many_within(h, src[:0], cutoff))
    counts, nodes, times = within.many_within(h, src, cutoff)
    dense = np.full((len(src), n + 1), np.inf)
    dense[np.repeat(np.arange(len(src)), counts), nodes] = times
    _same(dense, ref)
    assert counts.sum() == np.isfinite(ref).sum()  # every pair once, none beyond the cutoff


def test_bounded_sweep_grows_short_room_and_rereads_the_core_table_for_longer_cutoffs(monkeypatch):
    csr = _street_grid(30, 4)
    h, _ = contract.build_hierarchy(csr, 60)
    src = np.arange(1, csr.shape[0], 7)
    # one hierarchy, cutoffs up and down: the sorted core rows are rebuilt when a longer cutoff asks
    dense = {}
    for cutoff in (45.0, 1500.0, 400.0, 3000.0):
        counts, nodes, times = within.many_within(h, src, cutoff)
        dense[cutoff] = np.full((len(src), csr.shape[0]), np.inf)
        dense[cutoff][np.repeat(np.arange(len(src)), counts), nodes] = times
        _same(dense[cutoff], dijkstra(csr, indices=src, limit=cutoff))
    # every run given one slot of room: the kernel grows its arrays, the answer is the same
    monkeypatch.setattr(within, "_room", lambda size: (np.empty(1, np.int32), np.empty(1)))
    monkeypatch.setattr(within, "dense_rows", None)  # (the bounded sweep answers: no hand-over)
    counts, nodes, times = within.many_within(h, src, 400.0)
    again = np.full((len(src), csr.shape[0]), np.inf)
    again[np.repeat(np.arange(len(src)), counts), nodes] = times
    np.testing.assert_array_equal(again, dense[400.0])


def test_bounded_sweep_hands_over_to_the_full_sweep_when_most_is_reached(monkeypatch):
    csr = _street_grid(30, 8)
    h, _ = contract.build_hierarchy(csr)
    src = np.arange(0, csr.shape[0], 3)
    swept = []
    full = within.many_to_all
    real_rows = within.dense_rows
    monkeypatch.setattr(within, "many_to_all", lambda *a: swept.append(len(a[1])) or full(*a))
    out = np.empty((len(src), csr.shape[0]))
    within.many_within(h, src, 1e6, out)  # everything within the cutoff
    assert swept == [len(src)]  # after the first (bounded) block, the full sweep answered all
    ref = dijkstra(csr, indices=src, limit=1e6)
    _same(out, ref)
    # sparse rows too: the full sweep in blocks of 50 rows, then the finite pairs
    monkeypatch.setattr(within, "dense_rows", lambda fill, ns, width, cutoff: real_rows(fill, ns, width, cutoff,
                                                                                     cells=width * 50))
    counts, nodes, times = within.many_within(h, src, 1e6)
    assert swept == [len(src)] + [50] * 6  # 300 sources
    dense = np.full(out.shape, np.inf)
    dense[np.repeat(np.arange(len(src)), counts), nodes] = times
    _same(dense, ref)


def test_sparse_within_cutoff_equals_dense_for_every_engine():
    from planner.routing import csr_travel_times_within

    csr = _street_grid(35, 9)
    src = np.random.default_rng(9).choice(csr.shape[0], 30, replace=False)
    ref = dijkstra(csr, indices=src, limit=300.0)
    for engine in ("hierarchy", "dijkstra"):
        log = []
        m = csr_travel_times_within(csr, src, 300.0, engine=engine, engine_log=log)
        assert log[0].engine == engine and m.shape == ref.shape
        dense = np.full(ref.shape, np.inf)
        i, v = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.indices
        dense[i, v] = m.data
        _same(dense, ref)
        assert m.nnz == np.isfinite(ref).sum()  # the sources' own 0 s are stored, nothing beyond
    with pytest.raises(PlannerError, match="finite cutoff"):
        csr_travel_times_within(csr, src, None)


def test_homes_group_nearby_sources():
    # on a street grid the nodes sharing a home lie together: far fewer distinct homes among the
    # 8 nearest nodes of a point than among 8 random nodes
    side = 60
    csr = _street_grid(side, 10)
    h, _ = contract.build_hierarchy(csr)
    idx = np.arange(side * side).reshape(side, side)
    rng = np.random.default_rng(10)
    local = [len(np.unique(h.home[idx[r:r + 3, c:c + 3].ravel()])) for r, c in rng.integers(0, side - 3, (50, 2))]
    spread = [len(np.unique(h.home[rng.choice(side * side, 9)])) for _ in range(50)]
    assert np.mean(local) < 0.5 * np.mean(spread)


def test_core_table_is_filled_up_to_the_cutoff_asked_for():
    # a bounded query fills the core table only up to its cutoff; a longer (or no) cutoff later
    # refills it, and every answer stays exact
    csr = _street_grid(50, 11)
    h, _ = contract.build_hierarchy(csr)
    assert h.n_core > 1 and h.table_bound[0] < 0  # nothing tabulated by the build
    src = np.arange(0, csr.shape[0], 97)
    for cutoff in (120.0, np.inf, 300.0):
        out = np.empty((len(src), csr.shape[0]))
        contract.many_to_all(h, src, None, cutoff, out)
        _same(out, dijkstra(csr, indices=src, limit=cutoff))
    assert h.table_bound[0] == np.inf
    fresh, _ = contract.build_hierarchy(csr)
    contract.prepare(fresh, 120.0)
    assert np.isinf(fresh.table).any() and fresh.table_bound[0] == 120.0  # rows stop at the bound
