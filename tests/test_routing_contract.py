"""Contraction in rounds of independent nodes on several threads (planner.routing._contract).

The reference is scipy.sparse.csgraph.dijkstra (an independent implementation): the contracted
engine must give the same travel times with one thread and with two, and the same hierarchy.
"""
import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

import planner.routing._contract as contract
import planner.routing._hierarchy as hierarchy

#: Thread counts to compare (two only where numba may use two).
THREADS = [t for t in (1, 2) if t <= numba.config.NUMBA_NUM_THREADS]


@pytest.fixture(autouse=True)
def _restore_threads():
    old = numba.get_num_threads()
    yield
    numba.set_num_threads(old)


def _random_geometric(n, seed):
    """Points in a square, each joined to its 4 nearest neighbours; ~30 % of the arcs one-way."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 10_000.0
    dist, near = cKDTree(xy).query(xy, k=5)
    rows = np.repeat(np.arange(n), 4)
    cols = near[:, 1:].ravel()
    secs = dist[:, 1:].ravel() / rng.uniform(5.0, 25.0, len(rows))  # metres / (m/s)
    back = rng.random(len(rows)) > 0.3
    rows, cols = np.r_[rows, cols[back]], np.r_[cols, rows[back]]
    secs = np.r_[secs, secs[back] * rng.uniform(1.0, 1.5, back.sum())]
    csr = sp.coo_matrix((secs, (rows, cols)), shape=(n, n)).tocsr()  # duplicates summed: still a real path time
    return csr


def _grid(side, seed):
    """A street grid with a few missing blocks and times of 10, 20 or 30 s per block and direction.

    Equal times make equal paths around the blocks: two nodes of one round can each be the other's
    only witness, which is why a round's searches avoid every node of the round.
    """
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) > 0.08
    u, v = u[keep], v[keep]
    rows, cols = np.r_[u, v], np.r_[v, u]
    return sp.csr_matrix((10.0 * rng.integers(1, 4, len(rows)), (rows, cols)), shape=(side * side, side * side))


def _build(csr, n_threads, core_size=None):
    numba.set_num_threads(n_threads)
    h, why_not = hierarchy.build_hierarchy(csr, core_size)
    assert h is not None, why_not
    return h


def _check_against_scipy(h, csr, sources, cutoff=np.inf):
    out = np.full((len(sources), csr.shape[0]), -1.0)
    hierarchy.many_to_all(h, sources, None, cutoff, out)
    ref = dijkstra(csr, indices=sources, limit=cutoff)
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    fin = np.isfinite(ref)
    assert fin.mean() > 0.05  # the comparison covers many pairs
    assert np.abs(out[fin] - ref[fin]).max() <= 1e-6


def _assert_same_hierarchy(a, b):
    assert a.n_core == b.n_core
    for name in ("internal", "up_ptr", "up_ind", "up_w", "down_ptr", "down_par", "down_w", "core_ind", "core_w"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("make, core_size", [
    (lambda: _random_geometric(3_000, 7), None),
    (lambda: _random_geometric(3_000, 8), 0),
    (lambda: _grid(70, 9), None),
    (lambda: _grid(70, 10), 150),
])
def test_rounds_match_scipy_for_every_thread_count(make, core_size, monkeypatch):
    monkeypatch.setattr(contract, "_PARALLEL_SEARCHES", 0)  # every round on all threads, however small
    monkeypatch.setattr(contract, "_PARALLEL_SHORTCUTS", 0)
    csr = make()
    rng = np.random.default_rng(0)
    sources = rng.choice(csr.shape[0], 40, replace=False)
    built = []
    for n_threads in THREADS:
        h = _build(csr, n_threads, core_size)
        if core_size is not None:
            assert h.n_core == core_size
        _check_against_scipy(h, csr, sources)
        _check_against_scipy(h, csr, sources, cutoff=float(np.median(dijkstra(csr, indices=sources[:3]))))
        built.append(h)
    for h in built[1:]:
        _assert_same_hierarchy(built[0], h)  # deterministic: the thread count changes nothing


@pytest.mark.slow
def test_demo_network_matches_scipy_for_every_thread_count(demo):
    _, net, _, _ = demo
    csr = net.csr("offpeak")
    sources = np.random.default_rng(1).choice(csr.shape[0], 48, replace=False)
    built = []
    for n_threads in THREADS:
        h = _build(csr, n_threads)
        assert hierarchy.CORE_MIN <= h.n_core <= hierarchy.CORE_MAX
        _check_against_scipy(h, csr, sources, cutoff=45 * 60.0)
        _check_against_scipy(h, csr, sources[:16])
        built.append(h)
    for h in built[1:]:
        _assert_same_hierarchy(built[0], h)
