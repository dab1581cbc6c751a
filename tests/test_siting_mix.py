"""Multi-technology mix under one budget, checked against enumeration of all station sets."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planner.errors import InputError, SolverError
from planner.siting import Decay, MixResult, TechnologyData, TechnologyMix


def _geometry(seed=0, n=20, m=8):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 20, (n, 2))
    s = rng.uniform(0, 20, (m, 2))
    cost = np.hypot(*(d[:, None, :] - s[None, :, :]).transpose(2, 0, 1))
    site_dist = np.hypot(*(s[:, None, :] - s[None, :, :]).transpose(2, 0, 1))
    return rng, cost, site_dist


def _brute(techs, cost, budget, site_cost=None, site_dist=None, colocation=True):
    """Enumerate (site, tech) sets; independent re-implementation of the model's rules."""
    m = cost.shape[1]
    site_cost = np.zeros(m) if site_cost is None else np.broadcast_to(site_cost, (m,))
    pairs, req = [], []
    for k, t in enumerate(techs):
        elig = np.ones(m, bool) if t.eligible is None else np.asarray(t.eligible)
        r = set() if t.required is None else set(np.flatnonzero(t.required) if np.asarray(t.required).dtype == bool
                                                  else t.required)
        for j in range(m):
            if elig[j] or j in r:
                pairs.append((j, k))
                if j in r:
                    req.append((j, k))
    free = [q for q in pairs if q not in req]
    best, best_set = -np.inf, None
    for size in range(len(free) + 1):
        for s in itertools.combinations(free, size):
            S = list(s) + req
            req_sites = {j for j, _ in req}
            spent = sum(np.broadcast_to(techs[k].capex, (m,))[j] for j, k in s)
            spent += sum(site_cost[j] for j in {j for j, _ in s} - req_sites)
            if spent > budget + 1e-9:
                continue
            if not colocation and any(sum(1 for jj, _ in S if jj == j) > 1 for j in range(m)):
                continue
            bad = False
            for k, t in enumerate(techs):
                sites = sorted(j for j, kk in S if kk == k)
                if t.max_stations is not None and len(sites) > t.max_stations:
                    bad = True
                if t.min_spacing is not None:
                    for a, b in itertools.combinations(sites, 2):
                        if site_dist[a, b] < t.min_spacing and not ((a, k) in req and (b, k) in req):
                            bad = True
            if bad:
                continue
            val, ok = 0.0, True
            for k, t in enumerate(techs):
                sites = [j for j, kk in S if kk == k]
                w = np.ones(cost.shape[0]) if t.weights is None else np.asarray(t.weights, float)
                if sites:
                    f = (cost[:, sites] <= t.radius).astype(float) if t.decay is None else t.decay(cost[:, sites], t.radius)
                    cov = f.max(axis=1)
                else:
                    cov = np.zeros(cost.shape[0])
                if t.target and w @ cov < t.target * w.sum() - 1e-9:
                    ok = False
                val += t.weight * float(w @ cov)
            if ok and val > best + 1e-9:
                best, best_set = val, S
    return best, best_set


def _techs(rng, m, **over):
    h2 = dict(name="h2", capex=5.0, radius=7.0, weights=rng.integers(0, 5, 20).astype(float), weight=2.0,
              eligible=np.arange(m) % 2 == 0)
    hpc = dict(name="hpc", capex=2.0, radius=4.0, weights=rng.integers(1, 5, 20).astype(float), weight=1.0)
    h2.update(over.get("h2", {}))
    hpc.update(over.get("hpc", {}))
    return [TechnologyData(**h2), TechnologyData(**hpc)]


@pytest.mark.parametrize("seed", [0, 1])
def test_mix_matches_brute_force_with_targets_spacing_site_cost(seed):
    rng, cost, sd = _geometry(seed)
    techs = _techs(rng, 8, h2={"min_spacing": 6.0}, hpc={"target": 0.3})
    best, _ = _brute(techs, cost, 13.0, site_cost=1.0, site_dist=sd)
    model = TechnologyMix.from_cost_matrix(cost, techs, budget=13.0, site_cost=1.0, site_distance=sd)
    for method in ("exact", "auto", "heuristic"):
        res = model.solve(method=method, time_limit=20)
        assert isinstance(res, MixResult)
        assert res.capex <= 13.0 + 1e-9
        assert res.bound >= best - 1e-6
        assert res.covered_share["hpc"] >= 0.3 - 1e-9
        h2 = res.selected_by_tech["h2"]
        assert all(sd[a, b] >= 6.0 for a, b in itertools.combinations(h2, 2))
        if method != "heuristic":
            assert res.status == "optimal"
            assert res.objective == pytest.approx(best)
        else:
            assert res.objective <= best + 1e-9
    # per technology outputs are consistent with the cost matrix
    res = model.solve()
    for t in techs:
        sites = res.selected_by_tech[t.name]
        cov = (cost[:, sites] <= t.radius).any(axis=1) if len(sites) else np.zeros(20, bool)
        assert np.array_equal(res.covered_by_tech[t.name].astype(bool), cov)
    assert set(res.selected.tolist()) == {j for j, _ in res.pairs}


@pytest.mark.parametrize("seed", range(4))
def test_mix_spacing_rows_bind_exactly(seed):
    # a large budget wants many stations; the spacing (several neighbours per site) must cut the
    # optimum, and the exact model must land on the enumerated spaced optimum
    rng, cost, sd = _geometry(10 + seed, m=9)
    t = TechnologyData("h2", capex=1.0, radius=5.0, weights=rng.integers(1, 5, 20).astype(float), min_spacing=9.0)
    free, _ = _brute([TechnologyData("h2", capex=1.0, radius=5.0, weights=t.weights)], cost, 9.0)
    best, _ = _brute([t], cost, 9.0, site_dist=sd)
    assert best < free - 1e-9  # the rule binds on this instance
    res = TechnologyMix.from_cost_matrix(cost, [t], budget=9.0, site_distance=sd).solve(method="exact")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best)
    assert all(sd[a, b] >= 9.0 for a, b in itertools.combinations(res.selected_by_tech["h2"], 2))


def test_mix_colocation_rules():
    rng, cost, sd = _geometry(2, m=6)
    techs = _techs(rng, 6, h2={"eligible": None})
    best_co, _ = _brute(techs, cost, 14.0)
    best_no, _ = _brute(techs, cost, 14.0, colocation=False)
    co = TechnologyMix.from_cost_matrix(cost, techs, budget=14.0).solve()
    no = TechnologyMix.from_cost_matrix(cost, techs, budget=14.0, allow_colocation=False).solve()
    assert co.objective == pytest.approx(best_co)
    assert no.objective == pytest.approx(best_no)
    sites = [j for j, _ in no.pairs]
    assert len(sites) == len(set(sites))


def test_mix_site_cost_rewards_colocation():
    # one site reaches everything for both technologies; a big site cost makes sharing it pay
    cost = np.array([[1.0, 1.0], [1.0, 1.0]])
    techs = [TechnologyData("h2", capex=1.0, radius=2.0), TechnologyData("hpc", capex=1.0, radius=2.0)]
    res = TechnologyMix.from_cost_matrix(cost, techs, budget=12.0, site_cost=10.0).solve()
    assert res.objective == pytest.approx(4.0)
    assert len(res.selected) == 1 and len(res.pairs) == 2 and res.capex == pytest.approx(12.0)


def test_mix_required_stations_are_free_and_block_spacing():
    rng, cost, sd = _geometry(3)
    req = np.zeros(8, bool)
    req[0] = True
    techs = _techs(rng, 8, h2={"required": req, "min_spacing": 8.0})
    best, best_set = _brute(techs, cost, 9.0, site_dist=sd)
    res = TechnologyMix.from_cost_matrix(cost, techs, budget=9.0, site_distance=sd).solve()
    assert (0, "h2") in res.pairs
    assert res.objective == pytest.approx(best)
    assert 0 not in res.new_by_tech["h2"]
    assert all(sd[0, j] >= 8.0 for j in res.new_by_tech["h2"])
    # explicit sparse conflict matrix equals min_spacing
    C = sp.csr_matrix((sd < 8.0) & ~np.eye(8, dtype=bool))
    rng2, cost2, _ = _geometry(3)
    techs2 = _techs(rng2, 8, h2={"required": req, "conflicts": C})
    res2 = TechnologyMix.from_cost_matrix(cost2, techs2, budget=9.0).solve()
    assert res2.objective == pytest.approx(best)


def test_mix_decay_and_own_demand_sets():
    rng, cost, sd = _geometry(4)
    dec = Decay("linear")
    techs = _techs(rng, 8, hpc={"decay": dec})
    best, _ = _brute(techs, cost, 9.0)
    res = TechnologyMix.from_cost_matrix(cost, techs, budget=9.0).solve()
    assert res.objective == pytest.approx(best)
    # the same problem with hpc given as its own demand set (own cost matrix) gives the same answer
    t_own = TechnologyData("hpc", capex=2.0, radius=4.0, weights=techs[1].weights, cost=cost, decay=dec)
    res2 = TechnologyMix.from_cost_matrix(cost, [techs[0], t_own], budget=9.0).solve()
    assert res2.objective == pytest.approx(best)


def test_mix_heuristic_bound_and_agreement():
    rng, cost, sd = _geometry(5, n=30, m=10)
    techs = [TechnologyData("h2", capex=4.0, radius=6.0, weights=rng.integers(0, 4, 30).astype(float), weight=1.5),
             TechnologyData("hpc", capex=2.0, radius=4.0, weights=rng.integers(1, 4, 30).astype(float)),
             TechnologyData("pv_storage", capex=3.0, radius=5.0, weights=rng.integers(0, 3, 30).astype(float),
                        weight=0.5, eligible=rng.random(10) < 0.5)]
    model = TechnologyMix.from_cost_matrix(cost, techs, budget=15.0)
    ex = model.solve(method="exact")
    he = model.solve(method="heuristic")
    assert he.objective <= ex.objective + 1e-9
    assert he.bound >= ex.objective - 1e-6
    assert he.objective >= 0.9 * ex.objective
    assert he.gap == pytest.approx((he.bound - he.objective) / he.objective)


def test_mix_infeasible_target_and_budget_messages():
    rng, cost, sd = _geometry(6)
    techs = _techs(rng, 8, hpc={"target": 1.0, "radius": 1.0})
    with pytest.raises(SolverError, match="hpc.*unreachable"):
        TechnologyMix.from_cost_matrix(cost, techs, budget=100.0).solve()
    techs = _techs(rng, 8)
    with pytest.raises(SolverError, match="fits no station"):
        TechnologyMix.from_cost_matrix(cost, techs, budget=1.0).solve()
    # each target reachable alone, but not within the budget together
    techs = _techs(rng, 8, h2={"target": 0.4}, hpc={"target": 0.25})
    with pytest.raises(SolverError, match="coverage targets"):
        TechnologyMix.from_cost_matrix(cost, techs, budget=6.0).solve(method="exact")
    for k in range(2):  # ... while either target alone fits the budget
        alone = [t if i == k else TechnologyData(t.name, t.capex, t.radius, t.weights, t.weight,
                                             eligible=t.eligible) for i, t in enumerate(techs)]
        res = TechnologyMix.from_cost_matrix(cost, alone, budget=6.0).solve()
        assert res.covered_share[techs[k].name] >= techs[k].target
    with pytest.raises(InputError):
        TechnologyMix.from_cost_matrix(cost, [TechnologyData("a", 1, 5), TechnologyData("a", 1, 5)], budget=5)
    with pytest.raises(InputError, match="min_spacing"):
        TechnologyMix.from_cost_matrix(cost, [TechnologyData("a", 1, 5, min_spacing=3)], budget=5)


@pytest.mark.parametrize("seed", [0, 7])
def test_mix_max_stations_caps_a_technology_the_budget_would_allow_more_of(seed):
    rng, cost, sd = _geometry(seed)
    techs = _techs(rng, 8)
    budget = 16.0  # room for 8 hpc stations (capex 2)
    free = TechnologyMix.from_cost_matrix(cost, techs, budget=budget).solve(method="exact")
    assert len(free.selected_by_tech["hpc"]) > 2  # without the cap the optimum opens more than 2
    capped = _techs(np.random.default_rng(seed), 8, hpc={"max_stations": 2})
    capped[0].weights, capped[1].weights = techs[0].weights, techs[1].weights
    best, best_set = _brute(capped, cost, budget)
    assert sum(1 for _, k in best_set if k == 1) <= 2
    model = TechnologyMix.from_cost_matrix(cost, capped, budget=budget)
    for method in ("exact", "auto", "heuristic"):
        res = model.solve(method=method, time_limit=20)
        assert len(res.selected_by_tech["hpc"]) <= 2, method
        assert res.capex <= budget + 1e-9
        assert res.bound >= best - 1e-6
        assert res.details["max_stations"] == {"hpc": 2}
        if method == "heuristic":
            assert res.objective <= best + 1e-9
        else:
            assert res.status == "optimal" and res.objective == pytest.approx(best)
    assert best < free.objective  # the cap costs coverage: the test above could fail


def test_mix_max_stations_zero_opens_none_and_counts_existing_stations():
    rng, cost, sd = _geometry(1)
    techs = _techs(rng, 8, h2={"max_stations": 0})
    best, _ = _brute(techs, cost, 20.0)
    for method in ("exact", "auto", "heuristic"):
        res = TechnologyMix.from_cost_matrix(cost, techs, budget=20.0).solve(method=method, time_limit=20)
        assert len(res.selected_by_tech["h2"]) == 0, method
        assert all(t == "hpc" for _, t in res.pairs)
        if method != "heuristic":
            assert res.objective == pytest.approx(best)
    # every technology capped at 0: an empty plan, not an error
    none = _techs(rng, 8, h2={"max_stations": 0}, hpc={"max_stations": 0})
    res = TechnologyMix.from_cost_matrix(cost, none, budget=20.0).solve()
    assert res.pairs == [] and res.objective == 0.0
    # an existing station counts towards the cap: with max_stations = 1 no new h2 is built
    req = np.zeros(8, bool)
    req[2] = True
    techs = _techs(rng, 8, h2={"required": req, "max_stations": 1})
    best, _ = _brute(techs, cost, 20.0)
    for method in ("exact", "heuristic"):
        res = TechnologyMix.from_cost_matrix(cost, techs, budget=20.0).solve(method=method, time_limit=20)
        assert res.selected_by_tech["h2"].tolist() == [2] and len(res.new_by_tech["h2"]) == 0
        if method == "exact":
            assert res.objective == pytest.approx(best)


def test_mix_max_stations_errors():
    rng, cost, sd = _geometry(2)
    req = np.zeros(8, bool)
    req[[0, 2]] = True
    techs = _techs(rng, 8, h2={"required": req, "max_stations": 1})
    with pytest.raises(SolverError, match=r"'h2' already has 2 existing stations, more than its max_stations = 1"):
        TechnologyMix.from_cost_matrix(cost, techs, budget=20.0).solve()
    # a target reachable with enough stations, but not with one
    techs = _techs(rng, 8, hpc={"target": 0.9, "radius": 8.0})
    assert TechnologyMix.from_cost_matrix(cost, techs, budget=40.0).solve().covered_share["hpc"] >= 0.9
    techs = _techs(rng, 8, hpc={"target": 0.9, "radius": 8.0, "max_stations": 1})
    for method in ("exact", "auto", "heuristic"):
        with pytest.raises(SolverError, match=r"coverage targets \(hpc >= 90 %\).*max_stations: hpc <= 1"):
            TechnologyMix.from_cost_matrix(cost, techs, budget=40.0).solve(method=method, time_limit=10)
    for bad in (-1, 1.5, "two", True):
        with pytest.raises(InputError, match="max_stations must be a whole number"):
            TechnologyMix.from_cost_matrix(cost, _techs(rng, 8, hpc={"max_stations": bad}), budget=5.0)


def test_mix_from_geodataframe():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    rng, cost, sd = _geometry(7, n=20, m=8)
    demand = gpd.GeoDataFrame({"w_h2": rng.integers(0, 5, 20).astype(float),
                               "w_ev": rng.integers(1, 5, 20).astype(float)},
                              geometry=[Point(i, 0) for i in range(20)], crs="EPSG:4326")
    sites = gpd.GeoDataFrame({"site_id": [f"S{j}" for j in range(8)], "h2_ok": np.arange(8) % 2 == 0,
                              "land": np.full(8, 0.5)},
                             geometry=[Point(j, 1) for j in range(8)], crs="EPSG:4326")
    techs = [TechnologyData("h2", capex=5.0, radius=7.0, weights="w_h2", weight=2.0, eligible="h2_ok"),
             TechnologyData("hpc", capex=2.0, radius=4.0, weights="w_ev")]
    res = TechnologyMix.from_geodataframe(demand, sites, lambda d, s: cost, techs, budget=12.0,
                                          site_cost_col="land").solve()
    direct = TechnologyMix.from_cost_matrix(
        cost, [TechnologyData("h2", 5.0, 7.0, demand.w_h2.to_numpy(), 2.0, eligible=np.arange(8) % 2 == 0),
               TechnologyData("hpc", 2.0, 4.0, demand.w_ev.to_numpy())], budget=12.0, site_cost=0.5).solve()
    assert res.objective == pytest.approx(direct.objective)
    assert all(str(s).startswith("S") for s in res.selected_ids)


def _three_techs(rng, m, n=20):
    """Three technologies with one capex each and no site cost: the split solver's case."""
    return [
        TechnologyData("h2", capex=3.0, radius=7.0, weights=rng.integers(0, 5, n).astype(float), weight=2.0,
                   eligible=np.arange(m) % 2 == 0, min_spacing=8.0, required=np.arange(m) == 2),
        TechnologyData("hpc", capex=1.0, radius=4.0, weights=rng.integers(1, 5, n).astype(float), weight=1.0,
                   min_spacing=5.0, max_stations=3),
        TechnologyData("pv", capex=2.0, radius=5.0, weights=rng.integers(0, 3, n).astype(float), weight=0.5,
                   eligible=np.arange(m) % 3 != 0),
    ]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("budget", [4.0, 7.0, 10.0])
def test_mix_budget_splits_match_brute_force(seed, budget):
    # technologies sharing only the budget are solved per technology over station-count splits;
    # the answer must be the enumerated optimum, with every rule kept
    rng, cost, sd = _geometry(30 + seed, m=6)
    techs = _three_techs(rng, 6)
    best, _ = _brute(techs, cost, budget, site_dist=sd)
    model = TechnologyMix.from_cost_matrix(cost, techs, budget=budget, site_distance=sd)
    for method in ("exact", "auto"):
        res = model.solve(method=method, time_limit=30, mip_gap=0.0)
        assert "per-technology splits" in res.solver
        assert res.status == "optimal"
        assert res.objective == pytest.approx(best)
        assert res.bound >= best - 1e-7
        assert res.capex <= budget + 1e-9
        assert len(res.selected_by_tech["hpc"]) <= 3
        assert 2 in res.selected_by_tech["h2"]
        for name, gap in (("h2", 8.0), ("hpc", 5.0)):
            assert all(sd[a, b] >= gap for a, b in itertools.combinations(res.selected_by_tech[name], 2))


def test_mix_split_bounds_hold_at_every_station_count():
    # the Lagrangian lines from one LP bound the enumerated best value at every station count
    from planner.siting.mix import _lagrangian_lines

    rng, cost, sd = _geometry(7, m=8)
    t = TechnologyData("hpc", capex=1.0, radius=4.0, weights=rng.integers(1, 5, 20).astype(float), min_spacing=5.0)
    model = TechnologyMix.from_cost_matrix(cost, [t, _three_techs(rng, 8)[2]], budget=8.0, site_distance=sd)
    for k0 in (1, 3):
        milp, _, row = model._tech_milp(0, k0, np.arange(8))
        out = milp.solve(10, presolve="off", relax=True)
        lines = _lagrangian_lines(milp.arrays(), out.info["row_dual"], row)
        assert min(a + b * k0 for a, b in lines) == pytest.approx(out.bound, abs=1e-6)  # tight at k0
        for k in range(9):
            f, _ = _brute([t], cost, float(k), site_dist=sd)
            assert min(a + b * k for a, b in lines) >= f - 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_mix_split_leaves_out_dominated_pairs_and_stays_exact(seed):
    # three sites repeated next to their originals (same coverage, 0.1 apart, so in conflict with
    # them): the copies are dominated and left out, and the optimum is still the enumerated one
    rng, cost, sd = _geometry(50 + seed, m=5)
    cost = np.hstack([cost, cost[:, :3]])
    pos = np.concatenate([np.arange(5), np.arange(3)])
    sd = sd[np.ix_(pos, pos)]
    sd[sd == 0] = 0.1  # a copy is 0.1 from its original
    np.fill_diagonal(sd, 0.0)
    techs = _techs(rng, 8, h2={"min_spacing": 6.0, "capex": 3.0}, hpc={"min_spacing": 3.0, "capex": 1.0})
    best, _ = _brute(techs, cost, 7.0, site_dist=sd)
    model = TechnologyMix.from_cost_matrix(cost, techs, budget=7.0, site_distance=sd)
    kept = [model._undominated(k) for k in range(2)]
    assert sum(k.size for k in kept) < model.n_pairs
    res = model.solve(method="exact", mip_gap=0.0, time_limit=30)
    assert "per-technology splits" in res.solver and res.status == "optimal"
    assert res.objective == pytest.approx(best)


def test_mix_split_keeps_a_covered_pair_whose_coverer_has_more_conflicts():
    # q covers all that j covers (and more), but q is too close to s while j is not: j is not
    # dominated, and the optimum opens s and j
    cost = np.array([[9.0, 1.0, 1.0],   # d1: q and j
                     [1.0, 9.0, 9.0],   # d2: s
                     [1.0, 9.0, 9.0],   # d3: s
                     [9.0, 1.0, 9.0]])  # d4: q only
    x = np.array([0.0, 3.0, 6.0])  # s, q, j on a line
    sd = np.abs(x[:, None] - x[None, :])
    techs = [TechnologyData("h2", capex=1.0, radius=2.0, weights=np.array([5.0, 3.0, 3.0, 0.1]), min_spacing=5.0),
             TechnologyData("hpc", capex=1.0, radius=2.0, weights=np.array([1.0, 0.0, 0.0, 0.0]))]
    best, chosen = _brute(techs, cost, 3.0, site_dist=sd)
    assert (2, 0) in chosen and best == pytest.approx(12.0)
    model = TechnologyMix.from_cost_matrix(cost, techs, budget=3.0, site_distance=sd)
    assert 2 in model._undominated(0)
    res = model.solve(method="exact", mip_gap=0.0)
    assert "per-technology splits" in res.solver
    assert res.objective == pytest.approx(best)
    assert sorted(res.selected_by_tech["h2"]) == [0, 2]
