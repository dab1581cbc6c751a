"""p-median and p-center against brute force, and OR-Library pmed1-5 optima."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from planner.errors import InputError, SolverError
from planner.siting import PCenter, PMedian

ROOT = Path(__file__).resolve().parent.parent


def _instance(n=20, m=9, seed=0, integer=False):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 40, (n, 2))
    c = rng.uniform(0, 40, (m, 2))
    cost = np.hypot(*(d[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
    if integer:
        cost = np.round(cost)
    w = rng.integers(1, 6, n).astype(float)
    return cost, w


def _brute_median(cost, w, p, fixed=()):
    cand = [j for j in range(cost.shape[1]) if j not in fixed]
    return min(float(w @ cost[:, list(s) + list(fixed)].min(axis=1))
               for s in itertools.combinations(cand, p - len(fixed)))


def _brute_center(cost, p, w=None):
    W = cost if w is None else cost * w[:, None]
    return min(float(W[:, list(s)].min(axis=1).max()) for s in itertools.combinations(range(cost.shape[1]), p))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("p", [1, 2, 4])
def test_pmedian_matches_brute_force(seed, p):
    cost, w = _instance(seed=seed, integer=seed % 2 == 0)
    best = _brute_median(cost, w, p)
    res = PMedian.from_cost_matrix(cost, w, p=p).solve(method="exact", time_limit=20)
    assert res.status == "optimal" and res.sense == "min"
    assert res.objective == pytest.approx(best)
    assert res.bound <= res.objective + 1e-6  # min problem: bound is a lower bound
    assert len(res.selected) == p
    assert np.allclose(res.distance, cost[:, res.selected].min(axis=1))
    h = PMedian.from_cost_matrix(cost, w, p=p).solve(method="heuristic")
    assert h.objective >= best - 1e-9
    assert h.bound <= best + 1e-6
    assert h.status == "heuristic"


def test_pmedian_required_and_unreachable():
    cost, w = _instance(seed=5)
    best = _brute_median(cost, w, 3, fixed=(4,))
    res = PMedian.from_cost_matrix(cost, w, p=3, required=[4]).solve()
    assert 4 in res.selected and res.objective == pytest.approx(best)
    # a demand point reachable only from candidate 8 forces it open
    c2 = cost.copy()
    c2[0, :] = np.inf
    c2[0, 8] = 5.0
    best2 = min(float(w @ c2[:, list(s)].min(axis=1)) for s in itertools.combinations(range(9), 2)
                if 8 in s)
    res = PMedian.from_cost_matrix(c2, w, p=2).solve(method="exact")
    assert 8 in res.selected and res.objective == pytest.approx(best2)
    c2[1, :] = np.inf
    with pytest.raises(SolverError, match="1 demand points cannot reach"):
        PMedian.from_cost_matrix(c2, w, p=2, demand_ids=[f"d{i}" for i in range(20)]).solve()


def test_pmedian_lagrangian_bound_is_valid():
    cost, w = _instance(n=40, m=15, seed=7)
    best = _brute_median(cost, w, 3)
    lb = PMedian.from_cost_matrix(cost, w, p=3).lagrangian_bound(time_limit=5)
    assert lb <= best + 1e-6
    assert lb >= 0.9 * best


def test_pmedian_bad_p():
    cost, w = _instance()
    with pytest.raises(InputError):
        PMedian.from_cost_matrix(cost, w, p=0)
    with pytest.raises(InputError):
        PMedian.from_cost_matrix(cost, w, p=10)
    with pytest.raises(InputError):
        PMedian.from_cost_matrix(cost, w, p=1, required=[0, 1])


@pytest.mark.parametrize("p", [1, 2, 3])
def test_pcenter_matches_brute_force(p):
    cost, w = _instance(n=15, m=8, seed=p)
    best = _brute_center(cost, p)
    res = PCenter.from_cost_matrix(cost, p=p).solve(method="exact")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best)
    assert res.bound == pytest.approx(best)
    h = PCenter.from_cost_matrix(cost, p=p).solve(method="heuristic")
    assert h.objective >= best - 1e-9 and h.bound <= best + 1e-9
    # weighted version
    bw = _brute_center(cost, p, w)
    res = PCenter.from_cost_matrix(cost, w, p=p).solve()
    assert res.objective == pytest.approx(bw)


def test_pcenter_required():
    cost, _ = _instance(n=15, m=8, seed=9)
    best = min(float(cost[:, list(s) + [0]].min(axis=1).max()) for s in itertools.combinations(range(1, 8), 1))
    res = PCenter.from_cost_matrix(cost, p=2, required=[0]).solve()
    assert 0 in res.selected and res.objective == pytest.approx(best)


# ----------------------------------------------------------------------------- OR-Library
def _orlib_dir() -> Path:
    base = os.environ.get("PLANNER_BENCH_DIR")
    base = Path(base) if base else ROOT.parent / "shared" / "benchmarks"
    return base / "orlib-pmed" if (base / "orlib-pmed").is_dir() else base


def _read_pmed(path: Path):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    tok = path.read_text().split()
    n, m, p = int(tok[0]), int(tok[1]), int(tok[2])
    e = np.array(tok[3:3 + 3 * m], dtype=np.int64).reshape(m, 3)
    a, b = np.minimum(e[:, 0], e[:, 1]) - 1, np.maximum(e[:, 0], e[:, 1]) - 1
    last = {}
    for k, key in enumerate(a * n + b):  # last occurrence of a duplicated edge wins
        last[int(key)] = k
    keep = np.array(sorted(last.values()))
    a, b, c = a[keep], b[keep], e[keep, 2].astype(float)
    G = coo_matrix((np.r_[c, c], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
    return shortest_path(G, directed=False), p


_OPT = {"pmed1": 5819, "pmed2": 4093, "pmed3": 4250, "pmed4": 3034, "pmed5": 1355}


@pytest.mark.parametrize("name", sorted(_OPT))
def test_orlib_pmed_optimum(name):
    d = _orlib_dir()
    path = d / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"OR-Library instance {name} not found in {d} (set PLANNER_BENCH_DIR)")
    D, p = _read_pmed(path)
    res = PMedian.from_cost_matrix(D, p=p).solve(time_limit=60)
    assert res.status == "optimal"
    assert res.objective == _OPT[name]
    assert res.bound == _OPT[name]
