"""Multi-period siting (PhasedMix) against brute-force enumeration of every programme."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.errors import InputError
from planner.siting.mix import TechnologyData, TechnologyMix
from planner.siting.phased import PhasedMix


def _instance(seed, n_sites=3, n_dem=7):
    rng = np.random.default_rng(seed)
    cost_h = rng.uniform(0, 20, (n_dem, n_sites))
    cost_c = rng.uniform(0, 20, (n_dem, n_sites))
    w_h = rng.integers(1, 10, n_dem).astype(float)
    w_c = rng.integers(1, 10, n_dem).astype(float)
    capex_h = rng.integers(2, 6, n_sites).astype(float)
    techs = [
        TechnologyData("h2", capex=capex_h, radius=8.0, weights=w_h, weight=1.0, cost=cost_h),
        TechnologyData("hpc", capex=3.0, radius=9.0, weights=w_c, weight=0.7, cost=cost_c),
    ]
    return techs, [(cost_h, w_h, capex_h, 8.0, 1.0), (cost_c, w_c, np.full(n_sites, 3.0), 9.0, 0.7)]


def _brute(raw, budgets, growth, carry_over, n_sites=3, conflicts=None):
    """Every assignment of an opening period (or never) to each (site, technology)."""
    Y = len(budgets)
    pairs = [(j, k) for k in range(len(raw)) for j in range(n_sites)]
    best, best_x = -1.0, None
    for opening in itertools.product(range(Y + 1), repeat=len(pairs)):  # Y = never
        X = np.array([[o <= y for o in opening] for y in range(Y)])
        spend = np.array([sum(raw[k][2][j] for (j, k), o in zip(pairs, opening) if o == y) for y in range(Y)])
        if carry_over:
            if np.any(np.cumsum(spend) > np.cumsum(budgets) + 1e-9):
                continue
        elif np.any(spend > np.asarray(budgets) + 1e-9):
            continue
        if conflicts is not None:
            last = {pairs[p] for p in range(len(pairs)) if X[Y - 1, p]}
            if any((a, k) in last and (b, k) in last for (a, b, k) in conflicts):
                continue
        val = 0.0
        for y in range(Y):
            for k, (C, w, _capex, r, W) in enumerate(raw):
                open_sites = [j for (j, kk), o in zip(pairs, opening) if kk == k and o <= y]
                cov = (C[:, open_sites] <= r).any(axis=1) if open_sites else np.zeros(len(w), bool)
                val += growth[y][k] * W * float(w @ cov)
        if val > best + 1e-9:
            best, best_x = val, X
    return best, best_x


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("carry_over", [False, True])
def test_phased_equals_brute_force(seed, carry_over):
    techs, raw = _instance(seed)
    budgets = [4.0, 3.0, 5.0]
    growth = np.array([[1.0, 1.0], [1.2, 1.5], [1.4, 2.2]])
    model = PhasedMix.from_cost_matrix(None, techs, budgets, growth=growth, carry_over=carry_over,
                                       periods=[2026, 2027, 2028])
    plan = model.solve(time_limit=30, mip_gap=0)
    best, _ = _brute(raw, budgets, growth, carry_over)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, rel=1e-9)
    assert plan.is_nested()
    assert np.all(plan.open_pairs[1:] >= plan.open_pairs[:-1])
    spent = model.spent(plan.open_pairs)
    if carry_over:
        assert np.all(np.cumsum(spent) <= np.cumsum(budgets) + 1e-9)
    else:
        assert np.all(spent <= np.asarray(budgets) + 1e-9)
    # the programme accumulates at least the myopic one's coverage
    myopic = model.myopic(time_limit=30, mip_gap=0)
    assert myopic.is_nested()
    assert plan.objective >= myopic.objective - 1e-9


def test_myopic_is_each_period_optimal_alone():
    techs, raw = _instance(5)
    budgets = [4.0, 4.0]
    growth = np.ones((2, 2))
    model = PhasedMix.from_cost_matrix(None, techs, budgets, growth=growth)
    myo = model.myopic(time_limit=30, mip_gap=0)
    # period 1 alone: the single-period TechnologyMix optimum with the same budget
    single = TechnologyMix(None, techs, budgets[0]).solve(time_limit=30, mip_gap=0, method="exact")
    assert myo.by_period[0]["objective"] == pytest.approx(single.objective, rel=1e-9)
    # period 2: the period-1 stations are existing, the rest optimal within the budget
    req = [np.isin(np.arange(3), myo.stations and [s["site"] for s in myo.stations
                                                    if s["technology"] == t.name and s["opened"] == 1])
           for t in techs]
    from dataclasses import replace

    techs2 = [replace(t, required=r) for t, r in zip(techs, req)]
    second = TechnologyMix(None, techs2, budgets[1]).solve(time_limit=30, mip_gap=0, method="exact")
    assert myo.by_period[1]["objective"] == pytest.approx(second.objective, rel=1e-9)


def test_spacing_holds_in_every_period_and_matches_brute_force():
    techs, raw = _instance(7)
    # sites 0 and 1 may not both host hydrogen
    import scipy.sparse as sp

    conf = sp.csr_matrix(([1.0], ([0], [1])), shape=(3, 3))
    from dataclasses import replace

    techs = [replace(techs[0], conflicts=conf), techs[1]]
    budgets = [6.0, 6.0]
    growth = np.ones((2, 2))
    plan = PhasedMix.from_cost_matrix(None, techs, budgets, growth=growth).solve(time_limit=30, mip_gap=0)
    best, _ = _brute(raw, budgets, growth, False, conflicts=[(0, 1, 0)])
    assert plan.objective == pytest.approx(best, rel=1e-9)
    h2 = plan.open_pairs[:, :3]
    assert not np.any(h2[:, 0] & h2[:, 1])


def test_growth_shape_is_checked():
    techs, _ = _instance(0)
    with pytest.raises(InputError, match="growth"):
        PhasedMix.from_cost_matrix(None, techs, [1, 2], growth=np.ones((3, 2)))
    with pytest.raises(InputError, match="budgets"):
        PhasedMix.from_cost_matrix(None, techs, [1, -2])
