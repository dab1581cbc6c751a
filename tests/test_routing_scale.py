"""Routing at scale: the density-driven core, engine choice, float32 and blocked results.

The reference is scipy.sparse.csgraph.dijkstra (an independent implementation).
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

import planner.routing._hierarchy as contract
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
        np.testing.assert_array_equal(np.vstack(blocks), dense)
