"""Coverage models (MCLP, LSCP, capacitated coverage) against brute-force optima."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.errors import InputError, SolverError
from planner.siting import LSCP, MCLP, CapacitatedCoverage, Decay, SitingResult


def _instance(n=24, m=10, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 30, (n, 2))
    c = rng.uniform(0, 30, (m, 2))
    cost = np.hypot(*(d[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
    w = rng.integers(1, 10, n).astype(float)
    return cost, w


def _brute_cover(cost, w, radius, p, values=None, allowed=None, fixed=(), budget=None, ccost=None):
    """Best sum_i w_i max_{j in S} v_ij over subsets (independent of the planner code)."""
    n, m = cost.shape
    v = (cost <= radius).astype(float) if values is None else values
    cand = [j for j in range(m) if (allowed is None or allowed[j]) and j not in fixed]
    best, best_s = -1.0, None
    sizes = [p - len(fixed)] if budget is None else range(0, len(cand) + 1)
    for k in sizes:
        for s in itertools.combinations(cand, k):
            if budget is not None and sum(ccost[j] for j in s) > budget + 1e-9:
                continue
            S = list(s) + list(fixed)
            val = float(w @ v[:, S].max(axis=1)) if S else 0.0
            if val > best + 1e-9:
                best, best_s = val, S
    return best, best_s


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("p", [1, 3])
def test_mclp_matches_brute_force(seed, p):
    cost, w = _instance(seed=seed)
    best, _ = _brute_cover(cost, w, 8.0, p)
    for method in ("exact", "heuristic", "auto"):
        res = MCLP.from_cost_matrix(cost, w, radius=8.0, p=p).solve(method=method, time_limit=20)
        assert isinstance(res, SitingResult)
        assert len(res.selected) == p
        assert res.bound >= res.objective - 1e-6  # max problem: bound is an upper bound
        if method != "heuristic":
            assert res.status == "optimal"
            assert res.objective == pytest.approx(best)
        assert res.objective <= best + 1e-9
    # heuristic: swap local search reaches the optimum on these small cases
    res = MCLP.from_cost_matrix(cost, w, radius=8.0, p=p).solve(method="heuristic")
    assert res.objective == pytest.approx(best)
    assert res.bound >= best - 1e-6


def test_mclp_result_fields_consistent():
    cost, w = _instance()
    res = MCLP.from_cost_matrix(cost, w, radius=8.0, p=3, candidate_ids=[f"c{j}" for j in range(10)]).solve()
    covered = (cost[:, res.selected] <= 8.0).any(axis=1)
    assert np.array_equal(res.covered.astype(bool), covered)
    assert res.objective == pytest.approx(w @ covered)
    assert np.all(res.distance[covered] <= 8.0)
    assert np.all(res.assignment[~covered] == -1)
    assert list(res.selected_ids) == [f"c{j}" for j in res.selected]
    assert res.details["covered_share"] == pytest.approx(w @ covered / w.sum())
    assert res.gap == pytest.approx(0.0)
    assert "optimal" in res.summary()


def test_mclp_budget_with_costs():
    cost, w = _instance(seed=3)
    ccost = np.array([3, 1, 2, 5, 1, 4, 2, 3, 1, 2], float)
    best, _ = _brute_cover(cost, w, 8.0, None, budget=6, ccost=ccost)
    for method in ("exact", "heuristic"):
        res = MCLP.from_cost_matrix(cost, w, radius=8.0, budget=6, candidate_cost=ccost).solve(method=method)
        assert ccost[res.selected].sum() <= 6 + 1e-9
        if method == "exact":
            assert res.objective == pytest.approx(best)
        assert res.bound >= best - 1e-6


def test_mclp_budget_below_cheapest_raises():
    cost, w = _instance()
    with pytest.raises(SolverError, match="budget"):
        MCLP.from_cost_matrix(cost, w, radius=8.0, budget=0.5, candidate_cost=np.ones(10)).solve()


def test_mclp_required_facilities_always_open():
    cost, w = _instance(seed=4)
    best, _ = _brute_cover(cost, w, 8.0, 3, fixed=(0, 7))
    res = MCLP.from_cost_matrix(cost, w, radius=8.0, p=3, required=[0, 7]).solve()
    assert {0, 7} <= set(res.selected.tolist())
    assert len(res.selected) == 3
    assert res.objective == pytest.approx(best)
    # boolean mask form, and required facilities do not use the budget
    mask = np.zeros(10, bool)
    mask[[0, 7]] = True
    res2 = MCLP.from_cost_matrix(cost, w, radius=8.0, budget=1.0, required=mask).solve()
    assert {0, 7} <= set(res2.selected.tolist())
    assert res2.details["spent"] <= 1.0


def test_mclp_p_smaller_than_required_is_input_error():
    cost, w = _instance()
    with pytest.raises(InputError):
        MCLP.from_cost_matrix(cost, w, radius=8.0, p=1, required=[0, 1])


def test_mclp_competitor_takes_demand():
    # 3 demand points on a line; competitor (col 2) covers demand 0
    cost = np.array([[1.0, 9.0, 1.0],
                     [9.0, 1.0, 9.0],
                     [1.0, 9.0, 9.0]])
    w = np.array([10.0, 4.0, 3.0])
    # without competitor: candidate 0 covers 10 + 3 = 13 > candidate 1 (4)
    res = MCLP.from_cost_matrix(cost[:, :2], w, radius=2.0, p=1).solve()
    assert res.selected.tolist() == [0]
    # competitor at column 2 takes demand 0: candidate 0 now only gets 3 < 4
    res = MCLP.from_cost_matrix(cost, w, radius=2.0, p=1, competitor=[2]).solve()
    assert res.selected.tolist() == [1]
    assert res.objective == pytest.approx(4.0)
    assert 2 not in res.selected
    # with a 50 % share the competitor leaves 5 of demand 0: candidate 0 gets 5 + 3 = 8
    res = MCLP.from_cost_matrix(cost, w, radius=2.0, p=1, competitor=[2], competitor_share=0.5).solve()
    assert res.selected.tolist() == [0]
    assert res.objective == pytest.approx(8.0)


@pytest.mark.parametrize("kind", ["linear", "exponential", "power"])
def test_mclp_decay_matches_brute_force(kind):
    cost, w = _instance(seed=5)
    dec = Decay(kind, beta=0.2)
    vals = dec(cost, 9.0)
    best, _ = _brute_cover(cost, w, 9.0, 3, values=vals)
    res = MCLP.from_cost_matrix(cost, w, radius=9.0, p=3, decay=dec).solve(method="exact")
    assert res.objective == pytest.approx(best)
    assert res.status == "optimal"
    assert np.all((res.covered >= 0) & (res.covered <= 1))
    h = MCLP.from_cost_matrix(cost, w, radius=9.0, p=3, decay=dec).solve(method="heuristic")
    assert h.objective <= best + 1e-9
    assert h.bound >= best - 1e-6


def test_decay_functions_values():
    d = np.array([0.0, 5.0, 10.0, 11.0, np.inf])
    assert np.allclose(Decay("step")(d, 10), [1, 1, 1, 0, 0])
    assert np.allclose(Decay("linear")(d, 10), [1, 0.5, 0, 0, 0])
    assert np.allclose(Decay("exponential", beta=0.1)(d, 10), [1, np.exp(-0.5), np.exp(-1), 0, 0])
    assert np.allclose(Decay("power", beta=2, scale=5)(d, 10), [1, 0.25, 1 / 9, 0, 0])
    assert np.allclose(Decay("linear", cutoff=5)(d), [1, 0, 0, 0, 0])
    with pytest.raises(InputError):
        Decay("gaussian")
    with pytest.raises(InputError):
        Decay("exponential", beta=-1)


def test_lscp_minimum_facilities_and_costs():
    cost, w = _instance(seed=6)
    radius = 12.0
    A = cost <= radius
    best = None
    for k in range(1, 11):
        for s in itertools.combinations(range(10), k):
            if A[:, s].any(axis=1).all():
                best = k
                break
        if best:
            break
    res = LSCP.from_cost_matrix(cost, radius=radius).solve()
    assert res.status == "optimal" and res.sense == "min"
    assert res.objective == best
    assert A[:, res.selected].any(axis=1).all()
    h = LSCP.from_cost_matrix(cost, radius=radius).solve(method="heuristic")
    assert A[:, h.selected].any(axis=1).all()
    assert h.objective >= best and h.bound <= best + 1e-9


def test_lscp_infeasible_names_demand():
    cost = np.array([[1.0, 2.0], [50.0, 60.0], [1.0, 70.0], [80.0, np.inf]])
    with pytest.raises(SolverError) as err:
        LSCP.from_cost_matrix(cost, radius=10.0, demand_ids=["a", "b", "c", "d"]).solve()
    msg = str(err.value)
    assert "2 demand points" in msg and "b, d" in msg


def test_lscp_required_and_competitor():
    cost = np.array([[1.0, 9.0, 9.0, 1.0],
                     [9.0, 1.0, 9.0, 9.0],
                     [9.0, 9.0, 1.0, 9.0]])
    # competitor (col 3) already serves demand 0; required col 1 serves demand 1
    res = LSCP.from_cost_matrix(cost, radius=2.0, required=[1], competitor=[3]).solve()
    assert sorted(res.selected.tolist()) == [1, 2]
    assert res.objective == 1  # one new facility


def test_capacitated_coverage_small():
    # two candidates each reaching all 3 demand points; capacity limits what one serves
    cost = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    q = np.array([5.0, 4.0, 3.0])
    res = CapacitatedCoverage.from_cost_matrix(cost, q, capacity=[8.0, 6.0], radius=5.0, p=1).solve()
    assert res.selected.tolist() == [0] and res.objective == pytest.approx(8.0)
    res = CapacitatedCoverage.from_cost_matrix(cost, q, capacity=[8.0, 6.0], radius=5.0, p=2).solve()
    assert res.objective == pytest.approx(12.0)
    assert np.all(res.details["load"] <= np.array([8.0, 6.0]) + 1e-9)
    # capacities 6 and 5: split demand fills 11 of 12; single sourcing packs at most 5 + 4
    res = CapacitatedCoverage.from_cost_matrix(cost, q, capacity=[6.0, 5.0], radius=5.0, p=2).solve()
    assert res.objective == pytest.approx(11.0)
    res = CapacitatedCoverage.from_cost_matrix(cost, q, capacity=[6.0, 5.0], radius=5.0, p=2,
                                               single_source=True).solve()
    assert res.objective == pytest.approx(9.0)
    assert res.status == "optimal"


def test_capacitated_coverage_brute_force_fractional():
    cost, w = _instance(n=12, m=6, seed=7)
    cap = np.array([10.0, 12.0, 8.0, 15.0, 9.0, 11.0])
    from scipy.optimize import linprog

    def served(S):
        # max sum q_i z_ij, sum_j z_ij <= 1, sum_i q_i z_ij <= cap_j over pairs within radius
        pairs = [(i, j) for i in range(12) for j in S if cost[i, j] <= 9.0]
        if not pairs:
            return 0.0
        c = -np.array([w[i] for i, _ in pairs])
        A, b = [], []
        for i in range(12):
            A.append([1.0 if pi == i else 0.0 for pi, _ in pairs])
            b.append(1.0)
        for j in S:
            A.append([w[pi] if pj == j else 0.0 for pi, pj in pairs])
            b.append(cap[j])
        r = linprog(c, A_ub=A, b_ub=b, bounds=(0, 1))
        return -r.fun

    best = max(served(S) for S in itertools.combinations(range(6), 2))
    res = CapacitatedCoverage.from_cost_matrix(cost, w, capacity=cap, radius=9.0, p=2).solve()
    assert res.objective == pytest.approx(best, rel=1e-6)
    h = CapacitatedCoverage.from_cost_matrix(cost, w, capacity=cap, radius=9.0, p=2).solve(method="heuristic")
    assert h.objective <= best + 1e-6 and h.bound >= best - 1e-6


def test_bad_inputs_raise_input_error():
    cost, w = _instance()
    bad = cost.copy()
    bad[2, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        MCLP.from_cost_matrix(bad, w, radius=5, p=2)
    with pytest.raises(InputError, match="radius"):
        MCLP.from_cost_matrix(cost, w, radius=-1, p=2)
    with pytest.raises(InputError, match="weights"):
        MCLP.from_cost_matrix(cost, w[:-1], radius=5, p=2)
    with pytest.raises(InputError, match="method"):
        MCLP.from_cost_matrix(cost, w, radius=5, p=2).solve(method="fast")
    with pytest.raises(InputError):
        MCLP.from_cost_matrix(cost, w, radius=5, p=11)
    with pytest.raises(InputError):
        MCLP.from_cost_matrix(cost, w, radius=5)


def test_from_geodataframe_arcgis_facility_types():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    cost = np.array([[1.0, 9.0, 1.0],
                     [9.0, 1.0, 9.0],
                     [1.0, 9.0, 9.0]])
    demand = gpd.GeoDataFrame({"site_id": ["d0", "d1", "d2"], "weight": [10.0, 4.0, 3.0]},
                              geometry=[Point(0, 0), Point(1, 0), Point(2, 0)], crs="EPSG:4326")
    fac = gpd.GeoDataFrame({"site_id": ["A", "B", "X"], "kind": ["candidate", "Candidate", "competitor"]},
                           geometry=[Point(0, 1), Point(1, 1), Point(2, 1)], crs="EPSG:4326")
    calls = []

    def router(d, f):
        calls.append((len(d), len(f)))
        return cost

    res = MCLP.from_geodataframe(demand, fac, router, radius=2.0, p=1, weights_col="weight",
                                 facility_type_col="kind").solve()
    assert calls == [(3, 3)]
    assert list(res.selected_ids) == ["B"]
    fac.loc[2, "kind"] = "bogus"
    with pytest.raises(InputError, match="bogus"):
        MCLP.from_geodataframe(demand, fac, cost, radius=2.0, p=1, facility_type_col="kind")


def test_short_time_limit_keeps_incumbent_and_valid_bound():
    # a road-grid MCLP whose LP is fractional; whatever the machine speed, a short limit must
    # return a feasible selection, a status and an upper bound not below it
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(11)
    side = 30
    idx = np.arange(side * side).reshape(side, side)
    a = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    b = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    t = rng.uniform(0.3, 1.2, a.size)
    G = sp.coo_matrix((np.r_[t, t], (np.r_[a, b], np.r_[b, a])), shape=(side**2, side**2)).tocsr()
    nodes = rng.permutation(side**2)
    cost = dijkstra(G, directed=False, indices=nodes[:120])[:, nodes[120:520]]
    w = rng.integers(1, 50, 120).astype(float)
    res = MCLP.from_cost_matrix(cost, w, radius=4.0, p=6).solve(time_limit=0.3)
    assert res.status in ("optimal", "time_limit")
    assert len(res.selected) == 6
    assert res.objective == pytest.approx(float(w @ (cost[:, res.selected] <= 4.0).any(axis=1)))
    assert np.isnan(res.bound) or res.bound >= res.objective - 1e-6
    full = MCLP.from_cost_matrix(cost, w, radius=4.0, p=6).solve(time_limit=30)
    assert full.objective >= res.objective - 1e-9
    if full.status == "optimal":
        assert np.isnan(res.bound) or res.bound >= full.objective - 1e-6


def test_mclp_p_and_budget_together():
    cost, w = _instance(seed=8)
    ccost = np.array([3, 1, 2, 5, 1, 4, 2, 3, 1, 2], float)
    best = -1.0
    for k in range(0, 3):
        for s in itertools.combinations(range(10), k):
            if ccost[list(s)].sum() <= 5:
                best = max(best, float(w @ (cost[:, list(s)] <= 8.0).any(axis=1)) if s else 0.0)
    for method in ("exact", "heuristic"):
        res = MCLP.from_cost_matrix(cost, w, radius=8.0, p=2, budget=5, candidate_cost=ccost).solve(method=method)
        assert len(res.selected) <= 2 and ccost[res.selected].sum() <= 5 + 1e-9
        assert res.objective <= best + 1e-9 and res.bound >= best - 1e-6
        if method == "exact":
            assert res.objective == pytest.approx(best)
