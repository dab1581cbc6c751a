"""Flow capturing and flow refuelling (FRLM) on small instances with enumerated optima.

The FRLM oracle simulates the round trip with a fuel tank (start at the origin with half a
tank unless a station is there, refuel to full at every open station, finish back at the
origin with at least half a tank unless it has a station), independent of the planner's
path-segment construction.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planner.errors import InputError
from planner.siting import FRLM, FlowCapture


def _round_trip_ok(path, arcs, stations, R):
    fuel = R if path[0] in stations else R / 2
    seq = list(path) + list(path[::-1])[1:]
    lens = list(arcs) + list(arcs[::-1])
    for k, length in enumerate(lens):
        if seq[k] in stations:
            fuel = R
        fuel -= length
        if fuel < -1e-9:
            return False
    return seq[-1] in stations or fuel >= R / 2 - 1e-9


def test_frlm_hand_computed_line():
    # line 0 -1- 1 -1- 2 -1- 3 -1- 4, range 2.5; one flow 0 -> 4 (length 4)
    # a single station cannot do it (first within 1.25 of 0 and last within 1.25 of 4);
    # {1, 3}: first at 1 <= 1.25, gap 2 <= 2.5, last at 3 (1 from D) -> feasible
    paths = [[0, 1, 2, 3, 4]]
    arcs = [[1, 1, 1, 1]]
    res = FRLM.from_paths(paths, arcs, [10.0], vehicle_range=2.5, p=1).solve()
    assert res.objective == 0
    res = FRLM.from_paths(paths, arcs, [10.0], vehicle_range=2.5, p=2).solve()
    assert res.objective == 10 and sorted(res.selected_ids.tolist()) == [1, 3]
    # an arc longer than the range makes the trip impossible whatever is open
    res = FRLM.from_paths([[0, 1, 2]], [[1, 3]], [5.0], vehicle_range=2.5, p=3).solve()
    assert res.objective == 0 and res.details["n_impossible"] == 1


def _random_flows(seed):
    rng = np.random.default_rng(seed)
    pos = np.concatenate([[0.0], np.cumsum(rng.uniform(1, 4, 9))])
    ods = [(0, 9), (2, 7), (1, 5), (3, 9), (0, 4), (6, 9), (4, 8)]
    paths = [list(range(a, b + 1)) for a, b in ods]
    arcs = [np.diff(pos[a:b + 1]) for a, b in ods]
    vol = rng.integers(1, 20, len(ods)).astype(float)
    return paths, arcs, vol


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("p", [2, 3, 4])
def test_frlm_paths_match_simulation(seed, p):
    paths, arcs, vol = _random_flows(seed)
    R = 8.0
    best = max(sum(v for pth, a, v in zip(paths, arcs, vol) if _round_trip_ok(pth, a, set(s), R))
               for s in itertools.combinations(range(10), p))
    model = FRLM.from_paths(paths, arcs, vol, R, p=p, candidates=list(range(10)))
    res = model.solve(method="exact")
    assert res.status == "optimal" and res.objective == pytest.approx(best)
    ok = [_round_trip_ok(pth, a, set(res.selected.tolist()), R) for pth, a in zip(paths, arcs)]
    assert np.array_equal(res.covered.astype(bool), ok)
    h = FRLM.from_paths(paths, arcs, vol, R, p=p, candidates=list(range(10))).solve(method="heuristic")
    assert h.objective <= best + 1e-9 and h.bound >= best - 1e-6


def test_frlm_combinations_match_paths():
    paths, arcs, vol = _random_flows(2)
    R = 8.0
    combos = [[s for k in range(1, 4) for s in itertools.combinations(pth, k) if _round_trip_ok(pth, a, set(s), R)]
              for pth, a in zip(paths, arcs)]
    for p in (2, 3):
        a = FRLM.from_combinations(combos, vol, 10, p=p).solve(method="exact")
        b = FRLM.from_paths(paths, arcs, vol, R, p=p, candidates=list(range(10))).solve(method="exact")
        assert a.objective == pytest.approx(b.objective)
        h = FRLM.from_combinations(combos, vol, 10, p=p).solve(method="heuristic")
        assert h.objective <= a.objective + 1e-9


def test_frlm_required_budget_and_errors():
    paths = [[0, 1, 2, 3, 4]]
    arcs = [[1, 1, 1, 1]]
    res = FRLM.from_paths(paths, arcs, [10.0], 2.5, budget=1.0, candidate_cost=[1, 1, 1, 1, 1],
                          required=[3]).solve()
    assert res.objective == 10 and 3 in res.selected and 1 in res.selected
    with pytest.raises(InputError):
        FRLM.from_paths(paths, [[1, 1]], [1.0], 2.5, p=1)
    with pytest.raises(InputError):
        FRLM(np.ones(1), 3, p=1)


def test_flow_capture_detour_matrix():
    rng = np.random.default_rng(4)
    det = rng.uniform(0, 10, (9, 6))
    det[det > 6] = np.inf
    vol = rng.integers(1, 9, 9).astype(float)
    for p in (1, 2, 3):
        best = max(float(vol @ (det[:, list(s)] <= 3).any(axis=1)) for s in itertools.combinations(range(6), p))
        res = FlowCapture.from_cost_matrix(det, vol, max_detour=3, p=p).solve()
        assert res.objective == pytest.approx(best)
        assert res.details["captured_volume"] == pytest.approx(best)
    # on-path only (detour 0) and the sparse "can serve" form agree
    serves = sp.csr_matrix(det <= 0.5)
    a = FlowCapture.from_flows(vol, serves, p=2).solve()
    b = FlowCapture.from_cost_matrix(np.where(det <= 0.5, 0.0, np.inf), vol, max_detour=0, p=2).solve()
    assert a.objective == pytest.approx(b.objective)
