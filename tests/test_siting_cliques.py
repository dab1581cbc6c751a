"""Clique cover of spacing conflicts: exact cover, and the same optimum as pair rows."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from planner.siting._cliques import clique_cover


def _pairs_of(row, member, k, n):
    m = sp.csr_matrix((np.ones(len(member)), (row, member)), shape=(k, n))
    co = (m.T @ m).tocoo()
    off = co.row < co.col
    return set(zip(co.row[off].tolist(), co.col[off].tolist())), m


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 60), density=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
       geometric=st.booleans())
def test_cliques_cover_exactly_the_conflicting_pairs(n, density, seed, geometric):
    rng = np.random.default_rng(seed)
    if geometric:                       # spacing conflicts: points closer than d
        xy = rng.uniform(0, 10, (n, 2))
        pairs = cKDTree(xy).query_pairs(density * 5, output_type="ndarray")
    else:                               # any graph
        a, b = np.triu_indices(n, 1)
        keep = rng.random(a.size) < density
        pairs = np.c_[a[keep], b[keep]]
    want = set(map(tuple, np.sort(pairs, axis=1).tolist()))
    row, member, k = clique_cover(pairs[:, 0], pairs[:, 1], n) if len(pairs) else clique_cover([], [], n)
    got, m = _pairs_of(row, member, k, n)
    assert got == want                  # every conflicting pair in a clique, nothing else
    assert k <= max(len(want), 0)
    assert np.all(np.asarray(m.sum(axis=1)).ravel() >= 2)


def test_self_pair_is_refused():
    with pytest.raises(ValueError):
        clique_cover([1], [1], 3)


@pytest.mark.parametrize("rows", ["pairs", "cliques"])
def test_mix_with_spacing_matches_brute_force_on_a_dense_conflict_graph(rows, monkeypatch):
    from itertools import combinations

    import planner.siting.mix as mix
    from planner.siting import Technology, TechnologyMix

    monkeypatch.setattr(mix, "CLIQUE_ROWS_FROM", 10**9 if rows == "pairs" else 1)

    rng = np.random.default_rng(7)
    n_sites, n_dem = 9, 40
    xy = rng.uniform(0, 10, (n_sites, 2))
    dem = rng.uniform(0, 10, (n_dem, 2))
    cost = np.hypot(*(dem[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    w = rng.uniform(1, 3, n_dem)
    tech = Technology("hpc", capex=1.0, radius=3.0, weights=w, min_spacing=4.0)
    res = TechnologyMix.from_cost_matrix(cost, [tech], budget=4.0, site_distance=dist).solve(method="exact")
    best = 0.0
    for p in range(0, 5):
        for combo in combinations(range(n_sites), p):
            if any(dist[a, b] < 4.0 for a, b in combinations(combo, 2)):
                continue
            best = max(best, float(w[(cost[:, list(combo)] <= 3.0).any(axis=1)].sum()) if combo else 0.0)
    assert res.objective == pytest.approx(best, rel=1e-9)
    free = TechnologyMix.from_cost_matrix(cost, [Technology("hpc", capex=1.0, radius=3.0, weights=w)],
                                          budget=4.0).solve(method="exact")
    assert free.objective > best + 1e-6          # the spacing rule binds here
