"""Greedy construction + vertex-substitution (Teitz-Bart swap) local search.

One engine serves every "best value" siting model. Each demand row ``i`` receives the best
value among open columns, ``b_i = max_{j open} V_ij`` (0 when none), and the objective is
:math:`\\sum_i b_i`. Coverage (``V_ij = w_i`` within the radius), decay-weighted coverage
(``V_ij = w_i f(d_ij)``), p-median (``V_ij = w_i (U_i - d_ij)``) and the technology mix
(block-diagonal ``V`` over (demand, technology) rows and (site, technology) columns) are all
instances.

Swap evaluation is fully vectorised. With ``b1_i``/``b2_i`` the best and second-best open
values of row ``i`` and ``a_i`` the column giving ``b1_i``, replacing open ``f`` by closed
``j`` changes the objective by

.. math::
    \\Delta_{fj} = \\underbrace{\\sum_i (V_{ij} - b1_i)^+}_{\\text{gain}_j}
        - \\sum_{i: a_i = f} (b1_i - b2_i)
        + \\sum_{i: a_i = f} (\\min(V_{ij}, b1_i) - b2_i)^+ ,

so one pass over the non-zeros of ``V`` gives the whole ``open x candidates`` matrix of
deltas (Whitaker's fast interchange, in matrix form). Side constraints handled: cardinality
``p`` or a budget with per-column costs, shared per-group (site) costs, per-group capacity
(co-location limit), pairwise conflicts (spacing), fixed (required) columns and minimum
value targets per row group (technology coverage targets) and a maximum number of open
columns per column kind (e.g. at most N stations of one technology).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from planner.vocab import RANDOM_SEED

__all__ = ["SearchProblem", "SearchState", "greedy", "local_search", "solve_heuristic"]

_EPS = 1e-9


@dataclass
class SearchProblem:
    """A best-value selection problem (see module docstring).

    Parameters
    ----------
    V : scipy.sparse matrix (rows x columns), non-negative
    p : int, optional
        Number of open columns (including fixed ones). Exactly one of ``p`` / ``budget``.
    budget : float, optional
    cost : ndarray, optional
        Per-column cost counted against the budget (fixed columns should carry 0).
    fixed : ndarray of int
        Columns that are always open.
    allowed : ndarray of bool, optional
        Columns that may be opened.
    conflicts : scipy.sparse matrix (columns x columns), optional
        Symmetric; a non-zero ``(j, k)`` forbids opening both ``j`` and ``k``.
    group, group_cost, group_cap : ndarray, optional
        Group (site) of each column (``-1`` for none), cost paid once when the first column
        of a group opens, and the maximum number of open columns per group.
    row_group, target : ndarray, optional
        Group of each row (``-1`` for none) and the minimum total value per row group.
    kind, kind_cap : ndarray, optional
        Kind of each column (``-1`` for none) and the maximum number of open columns of each
        kind, fixed columns included (a second partition of the columns, independent of
        ``group``: in the technology mix a group is a site and a kind a technology).
    """

    V: sp.spmatrix
    p: int | None = None
    budget: float | None = None
    cost: np.ndarray | None = None
    fixed: np.ndarray | None = None
    allowed: np.ndarray | None = None
    conflicts: sp.spmatrix | None = None
    group: np.ndarray | None = None
    group_cost: np.ndarray | None = None
    group_cap: np.ndarray | None = None
    row_group: np.ndarray | None = None
    target: np.ndarray | None = None
    kind: np.ndarray | None = None
    kind_cap: np.ndarray | None = None

    def __post_init__(self):
        V = sp.csc_matrix(self.V, dtype=float)
        V.eliminate_zeros()
        self.n, self.m = V.shape
        coo = V.tocoo()
        self.rows = coo.row.astype(np.int64)
        self.cols = coo.col.astype(np.int64)
        self.vals = coo.data.astype(float)
        self.fixed = np.zeros(0, np.int64) if self.fixed is None else np.asarray(self.fixed, np.int64)
        if self.allowed is None:
            self.allowed = np.ones(self.m, bool)
        self.allowed = np.asarray(self.allowed, bool).copy()
        self.allowed[self.fixed] = False  # never "added"; they are open from the start
        self.cost = np.zeros(self.m) if self.cost is None else np.asarray(self.cost, float)
        if self.conflicts is not None:
            C = sp.csr_matrix(self.conflicts, dtype=float)
            C = ((C + C.T) != 0).astype(float).tocsr()
            C.setdiag(0)
            C.eliminate_zeros()
            self.conflicts = C
        if self.group is None:
            self.group = np.full(self.m, -1, np.int64)
        self.group = np.asarray(self.group, np.int64)
        ng = int(self.group.max()) + 1 if self.m and self.group.max() >= 0 else 0
        self.n_groups = ng
        self.group_cost = np.zeros(ng) if self.group_cost is None else np.asarray(self.group_cost, float)
        self.group_cap = (np.full(ng, np.iinfo(np.int64).max // 4, np.int64) if self.group_cap is None
                          else np.asarray(self.group_cap, np.int64))
        if self.kind is not None and self.kind_cap is not None:
            self.kind = np.asarray(self.kind, np.int64)
            self.kind_cap = np.asarray(self.kind_cap, np.int64)
            self.n_kinds = self.kind_cap.size
        else:
            self.kind, self.kind_cap, self.n_kinds = None, None, 0
        if self.row_group is not None and self.target is not None:
            self.row_group = np.asarray(self.row_group, np.int64)
            self.target = np.asarray(self.target, float)
            self.n_targets = self.target.size
        else:
            self.row_group, self.target, self.n_targets = None, None, 0


@dataclass
class SearchState:
    """Open columns and derived per-row best values."""

    open: np.ndarray  # bool (m,)
    b1: np.ndarray
    b2: np.ndarray
    a1: np.ndarray  # column giving b1, -1 when none

    @property
    def objective(self) -> float:
        return float(self.b1.sum())

    @property
    def selected(self) -> np.ndarray:
        return np.flatnonzero(self.open)


def _top2(P: SearchProblem, is_open: np.ndarray) -> SearchState:
    sel = is_open[P.cols]
    r, c, v = P.rows[sel], P.cols[sel], P.vals[sel]
    b1 = np.zeros(P.n)
    b2 = np.zeros(P.n)
    a1 = np.full(P.n, -1, np.int64)
    if r.size:
        order = np.lexsort((c, -v, r))
        r, c, v = r[order], c[order], v[order]
        first = np.ones(r.size, bool)
        first[1:] = r[1:] != r[:-1]
        fi = np.flatnonzero(first)
        b1[r[fi]] = v[fi]
        a1[r[fi]] = c[fi]
        second = fi + 1
        ok = second < r.size
        second = second[ok]
        ok2 = r[second] == r[fi[ok]]
        second = second[ok2]
        b2[r[second]] = v[second]
    return SearchState(is_open.copy(), b1, b2, a1)


def _spent(P: SearchProblem, is_open: np.ndarray) -> float:
    total = float(P.cost[is_open].sum())
    if P.n_groups:
        g = P.group[is_open]
        g = np.unique(g[g >= 0])
        total += float(P.group_cost[g].sum())
    return total


def _group_counts(P: SearchProblem, is_open: np.ndarray) -> np.ndarray:
    g = P.group[is_open]
    return np.bincount(g[g >= 0], minlength=P.n_groups)


def _kind_counts(P: SearchProblem, is_open: np.ndarray) -> np.ndarray:
    k = P.kind[is_open]
    return np.bincount(k[k >= 0], minlength=P.n_kinds)


def _target_values(P: SearchProblem, st: SearchState) -> np.ndarray:
    rg = P.row_group
    ok = rg >= 0
    return np.bincount(rg[ok], weights=st.b1[ok], minlength=P.n_targets)


def _add_cost(P: SearchProblem, counts: np.ndarray) -> np.ndarray:
    """Cost of opening each column given open counts per group."""
    extra = np.zeros(P.m)
    if P.n_groups:
        has = P.group >= 0
        extra[has] = np.where(counts[P.group[has]] == 0, P.group_cost[P.group[has]], 0.0)
    return P.cost + extra


def _addable(P: SearchProblem, st: SearchState, counts: np.ndarray, spent: float) -> np.ndarray:
    ok = P.allowed & ~st.open
    if P.conflicts is not None:
        clash = P.conflicts @ st.open.astype(float)
        ok &= clash == 0
    if P.n_groups:
        has = P.group >= 0
        ok[has] &= counts[P.group[has]] < P.group_cap[P.group[has]]
    if P.n_kinds:
        has = P.kind >= 0
        ok[has] &= _kind_counts(P, st.open)[P.kind[has]] < P.kind_cap[P.kind[has]]
    if P.budget is not None:
        ok &= spent + _add_cost(P, counts) <= P.budget + 1e-9 * max(1.0, abs(P.budget))
    return ok


def _gains(P: SearchProblem, st: SearchState, by_group: bool = False):
    d = P.vals - st.b1[P.rows]
    pos = d > 0
    # float even when no value improves (bincount of nothing is int64)
    g = np.bincount(P.cols[pos], weights=d[pos], minlength=P.m).astype(float)
    if not by_group:
        return g
    rg = P.row_group[P.rows[pos]]
    ok = rg >= 0
    G = np.zeros((P.n_targets, P.m))
    np.add.at(G, (rg[ok], P.cols[pos][ok]), d[pos][ok])
    return g, G


def _pick(score: np.ndarray, rng, top: int = 5) -> int:
    """Best column, or (randomised greedy) a random one among the ``top`` best."""
    if rng is None:
        return int(np.argmax(score))
    ok = np.flatnonzero(np.isfinite(score) & (score > -np.inf))
    if ok.size <= 1:
        return int(np.argmax(score))
    k = min(top, ok.size)
    best = ok[np.argpartition(-score[ok], k - 1)[:k]]
    return int(rng.choice(best))


def greedy(P: SearchProblem, deadline: float = np.inf,
           start: np.ndarray | None = None, rng=None) -> tuple[SearchState, bool]:
    """Greedy construction: first reach the targets, then add best (gain / cost) columns.

    ``start`` (bool mask) continues from a partial selection; with ``rng`` each step picks at
    random among the five best columns (randomised greedy, used by the kicks). Returns the
    state and whether all targets were met.
    """
    is_open = np.zeros(P.m, bool) if start is None else np.asarray(start, bool).copy()
    is_open[P.fixed] = True
    st = _top2(P, is_open)
    targets_ok = True
    # phase 1: coverage targets (most deficit reduction per unit cost)
    if P.n_targets:
        while time.perf_counter() < deadline:
            deficit = np.maximum(P.target - _target_values(P, st), 0.0)
            if np.all(deficit <= 1e-9 * np.maximum(1.0, P.target)):
                break
            if P.p is not None and st.open.sum() >= P.p:
                targets_ok = False
                break
            counts = _group_counts(P, st.open)
            ok = _addable(P, st, counts, _spent(P, st.open))
            _, G = _gains(P, st, by_group=True)
            prog = np.minimum(G, deficit[:, None]).sum(axis=0)
            prog[~ok] = 0
            if prog.max() <= 0:
                targets_ok = False
                break
            ratio = prog / np.maximum(_add_cost(P, counts), 1e-9)
            ratio[prog <= 0] = -1
            j = int(np.argmax(ratio))
            st.open[j] = True
            st = _top2(P, st.open)
    # phase 2: objective
    while time.perf_counter() < deadline:
        if P.p is not None and st.open.sum() >= P.p:
            break
        counts = _group_counts(P, st.open)
        ok = _addable(P, st, counts, _spent(P, st.open))
        if not ok.any():
            break
        gain = _gains(P, st)
        if P.budget is not None:
            score = np.where(ok & (gain > _EPS), gain / np.maximum(_add_cost(P, counts), 1e-9), -np.inf)
            if not np.isfinite(score.max()):
                break
        else:
            score = np.where(ok, gain, -np.inf)
        j = _pick(score, rng)
        st.open[j] = True
        st = _top2(P, st.open)
    return st, targets_ok


def _swap_deltas(P: SearchProblem, st: SearchState, removable: np.ndarray):
    """Objective change of every (remove f in ``removable``, add j) swap: (len(f), m)."""
    nf = removable.size
    pos = np.full(P.m, -1, np.int64)
    pos[removable] = np.arange(nf)
    gain = _gains(P, st)
    a1 = st.a1
    cov = a1 >= 0
    pf_row = np.full(P.n, -1, np.int64)
    pf_row[cov] = pos[a1[cov]]
    rows_ok = pf_row >= 0
    loss0 = np.bincount(pf_row[rows_ok], weights=(st.b2 - st.b1)[rows_ok], minlength=nf)
    # correction on non-zeros (i, j) with V_ij > b2_i and i assigned to a removable column
    pr = pf_row[P.rows]
    mask = (pr >= 0) & (P.vals > st.b2[P.rows])
    rr = P.rows[mask]
    corr_val = np.minimum(P.vals[mask], st.b1[rr]) - st.b2[rr]
    flat = pr[mask] * P.m + P.cols[mask]
    corr = np.bincount(flat, weights=corr_val, minlength=nf * P.m).reshape(nf, P.m)
    delta = gain[None, :] + loss0[:, None] + corr
    if not P.n_targets:
        return delta, None
    # per target group deltas (rows belong to one group each)
    G = P.n_targets
    rg_row = P.row_group
    _, gain_g = _gains(P, st, by_group=True)
    okr = rows_ok & (rg_row >= 0)
    loss0_g = np.zeros((G, nf))
    np.add.at(loss0_g, (rg_row[okr], pf_row[okr]), (st.b2 - st.b1)[okr])
    rgm = rg_row[rr]
    okc = rgm >= 0
    corr_g = np.zeros(G * nf * P.m)
    np.add.at(corr_g, rgm[okc] * nf * P.m + flat[okc], corr_val[okc])
    corr_g = corr_g.reshape(G, nf, P.m)
    delta_g = gain_g[:, None, :] + loss0_g[:, :, None] + corr_g
    return delta, delta_g


def _swap_feasible(P: SearchProblem, st: SearchState, removable: np.ndarray, delta_g: np.ndarray,
                   counts: np.ndarray, spent: float, tol_b: float) -> np.ndarray:
    """Which swaps (close ``removable[f]``, open ``j``) keep every constraint: conflicts, group
    and kind caps, the budget and the coverage targets. Returns a bool array (nf, m)."""
    feas = np.broadcast_to(P.allowed & ~st.open, (removable.size, P.m)).copy()
    if P.conflicts is not None:
        clash = P.conflicts @ st.open.astype(float)  # (m,)
        Cf = P.conflicts[removable].toarray()  # (nf, m)
        feas &= (clash[None, :] - Cf) == 0
    if P.n_groups:
        gj = P.group
        gf = P.group[removable]
        same = (gf[:, None] == gj[None, :]) & (gj[None, :] >= 0)
        hasj = gj >= 0
        cnt_j = np.where(hasj, counts[np.maximum(gj, 0)], 0)[None, :] - same
        cap_j = np.where(hasj, P.group_cap[np.maximum(gj, 0)], np.iinfo(np.int64).max // 4)
        feas &= cnt_j < cap_j[None, :]
    if P.n_kinds:
        kj = P.kind
        kf = P.kind[removable]
        hask = kj >= 0
        kcount = _kind_counts(P, st.open)
        kcnt_j = (np.where(hask, kcount[np.maximum(kj, 0)], 0)[None, :]
                  - ((kf[:, None] == kj[None, :]) & hask[None, :]))
        kcap_j = np.where(hask, P.kind_cap[np.maximum(kj, 0)], np.iinfo(np.int64).max // 4)
        feas &= kcnt_j < kcap_j[None, :]
    if P.budget is not None:
        new = spent - P.cost[removable][:, None] + P.cost[None, :]
        if P.n_groups:
            hasf = gf >= 0
            save = np.where(hasf & (counts[np.maximum(gf, 0)] == 1), P.group_cost[np.maximum(gf, 0)], 0.0)
            pay = np.where(hasj[None, :] & (cnt_j == 0), P.group_cost[np.maximum(gj, 0)][None, :], 0.0)
            new = new - save[:, None] + pay
        feas &= new <= P.budget + tol_b
    if P.n_targets:
        cur = _target_values(P, st)
        need = P.target - 1e-9 * np.maximum(1.0, P.target)
        for g in range(P.n_targets):
            feas &= (cur[g] + delta_g[g]) >= min(need[g], cur[g])
    return feas


def _best_add(P: SearchProblem, st: SearchState, counts: np.ndarray, spent: float) -> tuple[int, float] | None:
    """The add move (budget mode) with the largest gain: ``(column, gain)``, or ``None``."""
    if P.budget is None or (P.p is not None and st.open.sum() >= P.p):
        return None
    ok = _addable(P, st, counts, spent)
    if not ok.any():
        return None
    gain = _gains(P, st)
    gain[~ok] = -np.inf
    j = int(np.argmax(gain))
    return j, float(gain[j])


def local_search(P: SearchProblem, st: SearchState, deadline: float = np.inf,
                 max_iter: int = 100_000) -> SearchState:
    """Best-improvement swap (and, under a budget, add) moves until no move improves."""
    fixed = np.zeros(P.m, bool)
    fixed[P.fixed] = True
    tol_b = 1e-9 * max(1.0, abs(P.budget)) if P.budget is not None else 0.0
    for _ in range(max_iter):
        if time.perf_counter() >= deadline:
            break
        obj = st.objective
        tol = _EPS * max(1.0, abs(obj))
        counts = _group_counts(P, st.open)
        spent = _spent(P, st.open)
        best_move: tuple[int, ...] | None = None
        best_val = tol
        add = _best_add(P, st, counts, spent)
        if add is not None and add[1] > best_val:
            best_move, best_val = (add[0],), add[1]
        removable = np.flatnonzero(st.open & ~fixed)
        if removable.size:
            delta, delta_g = _swap_deltas(P, st, removable)
            delta = np.where(_swap_feasible(P, st, removable, delta_g, counts, spent, tol_b), delta, -np.inf)
            fi, j = divmod(int(np.argmax(delta)), P.m)
            if delta[fi, j] > best_val:
                best_move, best_val = (int(removable[fi]), j), delta[fi, j]
        if best_move is None:
            break
        is_open = st.open.copy()
        if len(best_move) == 2:  # swap: close the first, open the second
            is_open[best_move[0]] = False
        is_open[best_move[-1]] = True
        st = _top2(P, is_open)
    return st


def solve_heuristic(P: SearchProblem, time_limit: float = 60.0, kicks: int = 30,
                    seed: int | None = None):
    """Greedy, swap local search, then iterated local search within ``time_limit`` seconds.

    Each kick closes a few random non-fixed open columns, refills greedily and runs the local
    search again; the best state is kept (seeded, so runs are reproducible). The kicks stop
    after ``kicks`` kicks in a row without improvement. Returns ``(state, targets_ok)``.
    """
    deadline = time.perf_counter() + time_limit
    st, ok = greedy(P, deadline)
    if not ok:
        return st, ok
    st = local_search(P, st, deadline)
    best = st
    rng = np.random.default_rng(RANDOM_SEED if seed is None else seed)
    fixed = np.zeros(P.m, bool)
    fixed[P.fixed] = True
    stall = 0
    while stall < kicks:
        stall += 1
        if time.perf_counter() >= deadline:
            break
        removable = np.flatnonzero(best.open & ~fixed)
        if removable.size == 0:
            break
        k = min(removable.size, int(rng.integers(1, 4)))
        mask = best.open.copy()
        mask[rng.choice(removable, size=k, replace=False)] = False
        # forbid re-adding the closed columns in the refill, then allow them in the search
        saved = P.allowed.copy()
        P.allowed[best.open & ~mask] = False
        try:
            cand, cok = greedy(P, deadline, start=mask, rng=rng)
        finally:
            P.allowed = saved
        if not cok:
            continue
        cand = local_search(P, cand, deadline)
        if cand.objective > best.objective + _EPS * max(1.0, abs(best.objective)):
            best, stall = cand, 0
    return best, ok


def evaluate(P: SearchProblem, selected) -> SearchState:
    """State for an explicit set of open columns."""
    is_open = np.zeros(P.m, bool)
    is_open[np.asarray(selected, np.int64)] = True
    return _top2(P, is_open)
