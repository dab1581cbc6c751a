"""p-median (ArcGIS "MinimizeImpedance") and p-center models.

Exact p-median, in four steps (see :meth:`PMedian._exact`):

1. a heuristic upper bound ``UB`` (greedy + fast vertex substitution + iterated kicks);
2. the Lagrangian bound (assignment rows relaxed, subgradient ascent; numba kernel);
3. Lagrangian penalty tests (Beasley 1985) that fix most candidates closed (``x_j = 0``) or
   open, and a per-demand cap on the cost any solution cheaper than ``UB`` can have;
4. the radius (covering) formulation of Elloumi (2010) / García, Labbé & Marín (2011) on what
   is left, cut at the caps. By default it is used in projected (Benders) form: the master over
   ``(x, theta)`` gets the radius inequalities as cuts, separated exactly for the LP and for
   each integer solution, which keeps the MILPs small. ``formulation="radius"`` solves the
   chained radius MILP instead.

Together these prove all 40 OR-Library instances optimal (``benchmarks/bench_orlib.py``).
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError, SolverError

from ._base import Candidate, SitingModel, gdf_inputs
from ._kernels import lagrangian_rho
from ._milp import HIGHS_NAME, LpRelaxation, MilpModel
from ._search import SearchProblem, solve_heuristic
from ._validate import as_cost_matrix, as_index_set, as_weights, first_ids

__all__ = ["PMedian", "PCenter"]


def _check_p(p, fixed, m) -> int:
    if p is None:
        raise InputError("the number of facilities p is required")
    p = int(p)
    if p < 1:
        raise InputError(f"p must be at least 1, got {p}")
    if p < fixed.size:
        raise InputError(f"p = {p} is smaller than the {fixed.size} required facilities "
                         "(p counts required facilities)")
    if p > m:
        raise InputError(f"p = {p} but there are only {m} candidates")
    return p


class _PModel(SitingModel):
    """Set-up shared by the p-facility models (:class:`PMedian`, :class:`PCenter`)."""

    #: Error raised by ``from_geodataframe`` for competitor facilities (None: ignore them).
    _competitor_error: str | None = None

    def _setup(self, cost_matrix, p, weights, required, demand_ids, candidate_ids) -> None:
        self.cost = as_cost_matrix(cost_matrix)
        n, m = self.cost.shape
        self.m = m
        self.weights = as_weights(weights, n)
        self.fixed = as_index_set(required, m, "required facilities")
        self.p = _check_p(p, self.fixed, m)
        self.demand_ids = demand_ids
        self.candidate_ids = candidate_ids

    @classmethod
    def from_cost_matrix(cls, cost_matrix, weights=None, p=None, **kwargs):
        """Build from a travel-minute matrix (spopt argument order)."""
        return cls(cost_matrix, p, weights=weights, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, facilities, cost, p, weights_col=None,
                          facility_type_col=None, demand_id_col=None, facility_id_col=None,
                          **kwargs):
        """Build from GeoDataFrames and a cost matrix or routing callable."""
        d = gdf_inputs(demand, facilities, cost, weights_col, facility_type_col, demand_id_col,
                       facility_id_col)
        if cls._competitor_error and d["competitor"] is not None and d["competitor"].any():
            raise InputError(cls._competitor_error)
        kwargs.setdefault("required", d["required"])
        return cls(d["cost"], p, weights=d["weights"], demand_ids=d["demand_ids"],
                   candidate_ids=d["candidate_ids"], **kwargs)

    def _nearest(self, sel: np.ndarray):
        """Per demand row: minutes to the nearest open facility and its column (-1 if none)."""
        sub = self.cost[:, sel]
        k = np.argmin(sub, axis=1)
        dist = sub[np.arange(sub.shape[0]), k]
        return dist, np.where(np.isfinite(dist), sel[k], -1)

    def _precheck(self):
        unreachable = ~np.isfinite(self.cost).any(axis=1)
        if unreachable.any():
            bad = np.flatnonzero(unreachable)
            raise SolverError(f"{bad.size} demand points cannot reach any candidate (first ids: "
                              f"{first_ids(self.demand_ids, bad)})")


class _Levels:
    """Per demand row, candidate columns sorted by distance and their distance level."""

    def __init__(self, cost: np.ndarray):
        n, m = cost.shape
        self.order = np.argsort(cost, axis=1, kind="stable")
        self.sorted = np.take_along_axis(cost, self.order, axis=1)
        finite = np.isfinite(self.sorted)
        new = np.ones((n, m), bool)
        new[:, 1:] = self.sorted[:, 1:] != self.sorted[:, :-1]
        new &= finite
        self.level = np.cumsum(new, axis=1) - 1  # 0-based level of each sorted position
        self.level[~finite] = -1
        self.n_finite = finite.sum(axis=1)
        self.n_levels = np.where(self.n_finite > 0, self.level[np.arange(n), np.maximum(self.n_finite - 1, 0)] + 1, 0)


class PMedian(_PModel):
    r"""p-median: minimise total weighted travel time to the nearest open facility.

    Assignment form (for reference):
    :math:`\min \sum_{ij} w_i d_{ij} y_{ij}` s.t. :math:`\sum_j y_{ij} = 1`,
    :math:`y_{ij} \le x_j`, :math:`\sum_j x_j = p`, :math:`x_R = 1`.

    Solved form (radius formulation, chained): for demand :math:`i` let
    :math:`D_i^1 < D_i^2 < \dots < D_i^{K_i}` be its distinct finite distances and
    :math:`z_i^k \in [0, 1]` mean "no open facility closer than :math:`D_i^k`":

    .. math::
        \min \sum_i w_i \Big(D_i^1 + \sum_{k=2}^{K_i} (D_i^k - D_i^{k-1}) z_i^k\Big)
        \quad \text{s.t.} \quad
        z_i^k \ge z_i^{k-1} - \sum_{j: d_{ij} = D_i^{k-1}} x_j \;(z_i^1 \equiv 1), \quad
        \sum_j x_j = p, \quad x_R = 1, \quad x \in \{0,1\}^m .

    Only solutions cheaper than the heuristic's value matter, so after Lagrangian reduction
    each demand keeps the levels below a proven cap and must be served within it. Summing the
    chain up to level :math:`D` gives, with weighted costs :math:`c_{ij} = w_i d_{ij}` and
    :math:`\theta_i` the weighted cost of demand :math:`i`, the cut
    :math:`\theta_i \ge D - \sum_{j: c_{ij} < D} (D - c_{ij}) x_j` used by the default
    Benders form (``formulation="benders"``); ``"radius"`` keeps the chained rows.

    Parameters
    ----------
    cost_matrix : array (n_demand, n_candidates)
        Travel minutes (``inf`` = unreachable).
    p : int
        Facilities to open (including required ones).
    weights : array (n_demand,), optional
    required : bool mask or positions, optional
    demand_ids, candidate_ids : array, optional
    formulation : {"benders", "radius"}
        How step 4 of the exact solver is written (see the module docstring).
    """

    sense = "min"
    default_presolve = "on"
    _competitor_error = "p-median has no competitor semantics; drop competitor facilities"

    def __init__(self, cost_matrix, p, weights=None, required=None, demand_ids=None,
                 candidate_ids=None, formulation: str = "benders"):
        self._setup(cost_matrix, p, weights, required, demand_ids, candidate_ids)
        if formulation not in ("benders", "radius"):
            raise InputError(f"unknown p-median formulation '{formulation}' (benders or radius)")
        self.formulation = formulation
        self._W: np.ndarray | None = None
        self._last_heuristic = None
        self.iterations = 0
        self.lagrangian = float("nan")
        self.n_fixed = (0, 0)

    # ------------------------------------------------------------------ helpers
    def _distances(self, selected) -> np.ndarray:
        sub = self.cost[:, np.asarray(selected, np.int64)]
        return sub.min(axis=1) if sub.shape[1] else np.full(self.cost.shape[0], np.inf)

    def _objective(self, selected) -> float:
        d = self._distances(selected)
        w = self.weights
        if np.any(~np.isfinite(d) & (w > 0)):
            return float("inf")
        return float(w[w > 0] @ d[w > 0])

    def _problem(self) -> SearchProblem:
        C = self.cost
        fin = np.isfinite(C)
        U = np.where(fin, C, -np.inf).max(axis=1) + 1.0
        V = np.where(fin, (U[:, None] - C), 0.0) * self.weights[:, None]
        return SearchProblem(V=sp.csc_matrix(V), p=self.p, fixed=self.fixed)

    def _heuristic(self, deadline):
        st, _ = solve_heuristic(self._problem(), max(deadline - time.perf_counter(), 0.01),
                                kicks=min(self._kicks, 5))
        sel = st.selected
        cand = Candidate(sel, self._objective(sel))
        self._last_heuristic = cand.objective
        return cand

    def _relaxation_bound(self, time_limit):
        return self.lagrangian_bound(time_limit=time_limit, upper=self._last_heuristic)

    # ------------------------------------------------------------------ exact
    def _weighted(self) -> np.ndarray:
        """``w_i d_ij`` for positive-weight rows, unreachable pairs set to a prohibitive cost."""
        if self._W is None:
            rows = np.flatnonzero(self.weights > 0)
            W = self.cost[rows] * self.weights[rows, None]
            fin = np.isfinite(W)
            big = 10.0 * (float(np.max(W[fin], initial=0.0)) + 1.0) * max(1, W.shape[0])
            self._W = np.ascontiguousarray(np.where(fin, W, big))
            self._W_fin = fin
        return self._W

    def _subproblem(self, rho):
        """Lagrangian subproblem: required columns plus the p - |R| smallest ``rho``."""
        k = self.p - self.fixed.size
        r = rho.copy()
        r[self.fixed] = np.inf
        if k <= 0:
            return self.fixed.copy(), np.zeros(0, np.int64), r
        pick = np.argpartition(r, k - 1)[:k]
        return np.concatenate([self.fixed, pick]).astype(np.int64), pick, r

    def _lagrangian(self, upper, target, time_limit, iterations=5000):
        """Subgradient ascent on the Lagrangian dual (assignment rows relaxed).

        Returns ``(L, lam, rho)`` at the best multipliers found.
        """
        t_end = time.perf_counter() + time_limit
        W = self._weighted()
        if W.shape[0] == 0:
            rho = np.zeros(self.m)
            return 0.0, np.zeros(0), rho
        srt = np.partition(W, min(1, W.shape[1] - 1), axis=1)
        lam = srt[:, min(1, W.shape[1] - 1)].copy()
        best, best_lam = -np.inf, lam.copy()
        theta, stall = 2.0, 0
        for _ in range(iterations):
            if time.perf_counter() > t_end:
                break
            rho = lagrangian_rho(W, lam)
            S, _, _ = self._subproblem(rho)
            L = float(lam.sum() + rho[S].sum())
            if best + 1e-9 * max(1.0, abs(best) if np.isfinite(best) else 1.0) < L:
                best, best_lam, stall = L, lam.copy(), 0
                if best >= target:
                    break
            else:
                stall += 1
                if stall >= 30:
                    theta, stall = theta / 2, 0
                    if theta < 1e-4:
                        break
            g = 1.0 - (W[:, S] < lam[:, None]).sum(axis=1)
            nrm = float(g @ g)
            if nrm == 0:
                break  # the relaxed solution is feasible: L is optimal
            lam = lam + theta * (upper - L) / nrm * g
        rho = lagrangian_rho(W, best_lam)
        return float(best), best_lam, rho

    def lagrangian_bound(self, time_limit: float = 10.0, upper: float | None = None) -> float:
        r"""Lagrangian lower bound, relaxing :math:`\sum_j y_{ij} = 1` (subgradient ascent).

        :math:`L(\lambda) = \sum_i \lambda_i + \min_{|S| = p, S \supseteq R}
        \sum_{j \in S} \sum_i \min(0, w_i d_{ij} - \lambda_i)`, equal at best to the LP bound.
        """
        if upper is None:
            upper = self._heuristic(time.perf_counter() + min(5.0, time_limit / 2)).objective
        L, _, _ = self._lagrangian(upper, np.inf, time_limit)
        return L

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        """Heuristic bound, Lagrangian reduction, then one restricted radius MILP.

        1. ``UB`` from the heuristic; target ``T = UB - delta`` (``delta`` just under 1 for
           integer data, else ``mip_gap * UB``): only solutions cheaper than ``T`` matter.
        2. Lagrangian bound ``L`` with multipliers ``lambda``; ``L >= T`` proves ``UB``.
        3. Penalty tests (Beasley 1985) fix ``x_j = 0`` when forcing ``j`` open lifts the
           Lagrangian bound to ``T``, and ``x_j = 1`` when closing it does.
        4. Any solution cheaper than ``T`` serves demand ``i`` at a weighted cost below
           ``lambda_i + T - L``; levels beyond that cap are dropped and "served within the cap"
           is imposed. The radius MILP on what is left is exact for every solution cheaper
           than ``T``; if it has none, ``UB`` is optimal.
        """
        t0 = time.perf_counter()
        t_end = t0 + time_limit
        self.iterations = 0
        if start is None:
            start = self._heuristic(t0 + min(0.2 * time_limit, 30.0))
        ub = start.objective
        best = start
        integral = bool(np.all(self.weights == np.round(self.weights))
                        and np.all(self._W_or_cost_integral()))
        delta = (1.0 - 1e-6) if integral else max(mip_gap * abs(ub), 1e-9)
        target = ub - delta
        L, lam, rho = self._lagrangian(ub, target, min(0.4 * time_limit, max(t_end - time.perf_counter(), 0)))
        self.lagrangian = L
        if target <= L:
            return Candidate(best.selected, ub, ub if integral else L, "optimal", "greedy+swap / lagrangian")
        # ---- penalty tests
        k = self.p - self.fixed.size
        S, pick, _ = self._subproblem(rho)
        fix0 = np.zeros(self.m, bool)
        fix1 = np.zeros(self.m, bool)
        in_S = np.zeros(self.m, bool)
        in_S[pick] = True
        free = np.ones(self.m, bool)
        free[self.fixed] = False
        if k > 0:
            rk = rho[pick].max()
            fix0 = free & ~in_S & (L + rho - rk >= target)
            outside = free & ~in_S
            if outside.any():
                rk1 = rho[outside].min()
                fix1 = in_S & (L - rho + rk1 >= target)
        else:
            fix0 = free.copy()
        self.n_fixed = (int(fix0.sum()), int(fix1.sum()))
        W = self._weighted()
        cap = lam + (target - L)
        if self.formulation == "radius":
            return self._solve_radius(W, cap, fix0, fix1, best, ub, L, target, integral, t_end,
                                      mip_gap, presolve, verbose)
        return self._solve_benders(W, cap, fix0, fix1, best, ub, L, target, integral, t_end,
                                   mip_gap, presolve, verbose)

    # ---- step 4, Benders form (default) -------------------------------------------
    def _solve_benders(self, W, cap, fix0, fix1, best, ub, L, target, integral, t_end, mip_gap,
                       presolve, verbose):
        r"""Radius formulation projected on ``(x, theta)``: Benders cuts added on demand.

        Summing the chained radius rows of demand ``i`` up to level ``D`` gives
        :math:`\theta_i \ge D - \sum_{j: c_{ij} < D} (D - c_{ij}) x_j` (weighted costs
        :math:`c`), so the master over the free columns with all these cuts has the radius
        LP bound. Cuts are separated for the LP (exactly, over all levels, vectorised) until
        none is violated, then the master MILP is solved; violated demand rows of its
        solution get their tight cut and the MILP is solved again, until its solution is
        exact (optimal) or its bound reaches the target (``UB`` optimal).
        """
        cols = np.flatnonzero(~fix0)
        Wc = np.where(self._W_fin[:, cols] & (W[:, cols] <= cap[:, None] + 1e-9), W[:, cols], np.inf)
        if np.any(~np.isfinite(Wc).any(axis=1)):
            return Candidate(best.selected, ub, ub if integral else target, "optimal",
                             "greedy+swap / lagrangian")
        must = np.zeros(self.m, bool)
        must[self.fixed] = True
        must |= fix1
        master = _BendersMaster(Wc, self.p, must[cols], verbose)
        master.add_solution_cuts(np.isin(cols, best.selected).astype(float))
        master.lp_loop(t_end)
        self.iterations = 0
        bound = L
        status = "time_limit"
        while time.perf_counter() < t_end - 0.05:
            self.iterations += 1
            st, x, obj, mb = master.mip(t_end, mip_gap, integral, target)
            if np.isfinite(mb):
                lbm = float(np.ceil(mb - 1e-6)) if integral else mb
                bound = max(bound, min(lbm, target if not integral else ub))
            if st == "infeasible":
                status, bound = "optimal", (ub if integral else max(L, target))
                break
            if x is None:
                break
            improving = (np.round(obj) <= ub - 1) if integral else (obj < target)
            if st == "optimal" and not improving:
                status, bound = "optimal", (ub if integral else max(L, min(obj, target)))
                break
            added = master.add_solution_cuts(x)
            sel = cols[x > 0.5]
            true = self._objective(sel)
            if true < best.objective:
                best = Candidate(sel, true)
                ub = true
                target = ub - ((1.0 - 1e-6) if integral else max(mip_gap * abs(ub), 1e-9))
            if added == 0:
                if st == "optimal":
                    status = "optimal"
                    bound = float(np.ceil(mb - 1e-6)) if integral else mb
                break
        bound = min(bound, best.objective)
        if integral and np.isfinite(bound):
            bound = float(np.ceil(bound - 1e-6))
        return Candidate(best.selected, best.objective, bound, status, HIGHS_NAME + " (benders)")

    # ---- step 4, chained radius form ------------------------------------------------
    def _solve_radius(self, W, cap, fix0, fix1, best, ub, L, target, integral, t_end, mip_gap,
                      presolve, verbose):
        left = t_end - time.perf_counter()
        built = self._restricted_milp(W, cap, fix0, fix1)
        if built is None:  # some demand cannot be served below the cap: nothing beats UB
            return Candidate(best.selected, ub, ub if integral else target, "optimal",
                             "greedy+swap / lagrangian")
        milp, xcols, cols = built
        self.iterations = 1
        # no MIP start: the cutoff T already prunes everything the heuristic would (and a
        # start plus presolve trips a HiGHS 1.16 defect, see _milp.MilpModel.solve)
        out = milp.solve(max(left, 0.05), mip_gap, presolve, verbose=verbose,
                         objective_integral=integral, cutoff=target, options=_NO_LNS)
        if out.x is not None:
            sel = cols[out.x[xcols] > 0.5]
            obj = self._objective(sel)
            if obj < ub:
                best = Candidate(sel, obj)
        if out.status in ("infeasible", "optimal"):
            status = "optimal"
            if out.status == "infeasible" or best.objective >= ub:
                bound = ub if integral else max(L, target)
            else:
                bound = out.bound if np.isfinite(out.bound) else best.objective
            bound = min(bound, best.objective)
        else:
            status = "time_limit"
            bound = max(L, min(target, out.bound)) if np.isfinite(out.bound) else L
        if integral and np.isfinite(bound):
            bound = float(np.ceil(bound - 1e-6))  # integer data: the optimum is an integer
        return Candidate(best.selected, best.objective, bound, status, HIGHS_NAME)

    def _W_or_cost_integral(self):
        W = self._weighted()
        fin = self._W_fin
        return np.all(W[fin] == np.round(W[fin]))

    def _restricted_milp(self, W, cap, fix0, fix1):
        """Radius MILP over open-able columns, each row's levels cut at ``cap`` (weighted)."""
        cols = np.flatnonzero(~fix0)
        Wc = W[:, cols]
        Wc = np.where(self._W_fin[:, cols] & (Wc <= cap[:, None] + 1e-9), Wc, np.inf)
        lv = _Levels(Wc)
        K = lv.n_levels
        if np.any(K == 0):
            return None
        n, mc = Wc.shape
        milp = MilpModel("min")
        x = milp.add_vars(mc, 0.0, 0.0, 1.0, integer=True)
        must = np.zeros(self.m, bool)
        must[self.fixed] = True
        must |= fix1
        milp.fix(x[must[cols]], 1.0)
        first = self._first_values(lv, K)  # D_i^k, k < K_i
        nzv = K - 1
        zstart = np.concatenate([[0], np.cumsum(nzv)])
        Z = int(zstart[-1])
        zi = np.repeat(np.arange(n), nzv)
        zk = np.arange(Z) - zstart[zi] + 1
        zc = milp.add_vars(Z, first[zi, zk] - first[zi, zk - 1], 0.0, 1.0)
        milp.offset = float(first[:, 0].sum())
        rstart = np.concatenate([[0], np.cumsum(K)])
        R = int(rstart[-1])
        # row (i, k), k = 1..K_i:  z^k [k < K_i] - z^{k-1} [k >= 2] + sum_{level k-1} x >= [k == 1]
        ri = np.repeat(np.arange(n), K)
        rk = np.arange(R) - rstart[ri] + 1
        has_z = rk < K[ri]
        has_prev = rk >= 2
        zid_k = zstart[ri] + rk - 1
        zid_prev = zstart[ri] + rk - 2
        ei, ep = np.nonzero(lv.level >= 0)
        e_row = rstart[ei] + lv.level[ei, ep]
        rows = np.concatenate([np.flatnonzero(has_z), np.flatnonzero(has_prev), e_row])
        colsv = np.concatenate([zc[zid_k[has_z]], zc[zid_prev[has_prev]], x[lv.order[ei, ep]]])
        valsv = np.concatenate([np.ones(int(has_z.sum())), -np.ones(int(has_prev.sum())),
                                np.ones(ei.size)])
        milp.add_rows(rows, colsv, valsv, R, lower=np.where(rk == 1, 1.0, 0.0))
        milp.add_rows(np.zeros(mc), x, 1.0, 1, lower=self.p, upper=self.p)
        return milp, x, cols

    @staticmethod
    def _first_values(lv, K):
        n, m = lv.sorted.shape
        Kmax = int(K.max())
        out = np.zeros((n, Kmax))
        fin = lv.level >= 0
        firsts = np.zeros((n, m), bool)
        firsts[:, 0] = fin[:, 0]
        firsts[:, 1:] = fin[:, 1:] & (lv.level[:, 1:] != lv.level[:, :-1])
        ri, pj = np.nonzero(firsts)
        out[ri, lv.level[ri, pj]] = lv.sorted[ri, pj]
        return out

    # ------------------------------------------------------------------ result
    def _result(self, cand, seconds):
        sel = np.asarray(cand.selected, np.int64)
        dist, assign = self._nearest(sel)
        cand.objective = self._objective(sel)
        w = self.weights
        details = dict(p=self.p, mean_distance=float(w @ dist / w.sum()) if w.sum() > 0 else float("nan"),
                       max_distance=float(dist.max()), iterations=self.iterations,
                       n_required=int(self.fixed.size))
        return self._pack(cand, seconds, assignment=assign, covered=np.isfinite(dist).astype(float),
                          distance=dist, details=details)


#: HiGHS options for the p-median MILPs: the upper bound comes from our heuristic and the
#: cutoff, so HiGHS' large-neighbourhood primal heuristics only cost time.
_NO_LNS = {"mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
           "mip_heuristic_run_root_reduced_cost": False}


class _BendersMaster:
    """Master problem ``min sum_i theta_i`` over the free columns, cuts added incrementally.

    ``W`` (n x mc) holds weighted costs, ``inf`` beyond each row's cap. Rows: ``sum x = p``,
    "served within the cap" per demand row, and the cuts
    ``theta_i + sum_{j: W_ij < D} (D - W_ij) x_j >= D``.
    """

    def __init__(self, W, p, must, verbose=False):
        self.W = W
        n, mc = W.shape
        self.n, self.mc = n, mc
        self.order = np.argsort(W, axis=1, kind="stable")
        self.Ws = np.take_along_axis(W, self.order, axis=1)
        self.fin = np.isfinite(self.Ws)
        model = MilpModel("min")
        x = model.add_vars(mc, 0.0, lb=np.where(must, 1.0, 0.0), ub=1.0)
        model.add_vars(n, 1.0, lb=self.Ws[:, 0], ub=np.inf)  # theta
        model.add_rows(np.zeros(mc), x, 1.0, 1, lower=p, upper=p)
        fr, fc = np.nonzero(np.isfinite(W))
        model.add_rows(fr, x[fc], 1.0, n, lower=1.0)
        self.lp = LpRelaxation(model, verbose)
        self.n_cuts = 0
        self.obj_row = None

    def _add(self, rows, D):
        """Add the cuts of demand rows ``rows`` at levels ``D``."""
        if rows.size == 0:
            return 0
        Wi = self.W[rows]
        r, cj = np.nonzero(Wi < D[:, None])
        rr = np.concatenate([r, np.arange(rows.size)])
        cc = np.concatenate([cj, self.mc + rows])
        vv = np.concatenate([D[r] - Wi[r, cj], np.ones(rows.size)])
        self.lp.add_rows(sp.csr_matrix((vv, (rr, cc)), shape=(rows.size, self.mc + self.n)), lower=D)
        self.n_cuts += rows.size
        return rows.size

    def separate(self, x, theta, tol=1e-7):
        """Most violated cut per demand row for a (fractional) point; returns cuts added."""
        xs = x[self.order] * self.fin
        Wf = np.where(self.fin, self.Ws, 0.0)
        wx = Wf * xs
        S = np.cumsum(xs, axis=1) - xs
        T = np.cumsum(wx, axis=1) - wx
        g = np.where(self.fin, Wf * (1.0 - S) + T, -np.inf)
        k = np.argmax(g, axis=1)
        gv = g[np.arange(self.n), k]
        theta = np.where(np.isfinite(theta), theta, -1e300)
        rows = np.flatnonzero(gv - theta > tol * np.maximum(1.0, np.abs(theta)))
        return self._add(rows, self.Ws[rows, k[rows]])

    def add_solution_cuts(self, x):
        """Tight cuts at an integer point for rows whose ``theta`` is below their true cost."""
        true = np.where(x[None, :] > 0.5, self.W, np.inf).min(axis=1)
        last = self.lp.last_solution()
        theta = last[self.mc:] if last is not None else np.full(self.n, -np.inf)
        fin = np.isfinite(true)
        tf = np.where(fin, true, 0.0)
        rows = np.flatnonzero(fin & (theta < tf - 1e-7 * np.maximum(1.0, tf)))
        return self._add(rows, true[rows])

    def lp_loop(self, t_end, max_rounds=200):
        """Separate LP cuts until none is violated (the radius LP bound)."""
        for _ in range(max_rounds):
            if time.perf_counter() > t_end:
                break
            self.lp.solve(max(t_end - time.perf_counter(), 0.05))
            sol = self.lp.last_solution()
            if sol is None:
                break
            if self.separate(sol[:self.mc], sol[self.mc:]) == 0:
                break

    def mip(self, t_end, mip_gap, integral, cutoff):
        """Solve the master as a MILP; returns (status, x, objective, dual bound)."""
        # explicit objective row sum(theta) <= cutoff: on the OR-Library masters HiGHS proves
        # "nothing below the cutoff" ~3x faster with the row than with objective_bound alone
        if self.obj_row is None:
            theta = sp.csr_matrix((np.ones(self.n), (np.zeros(self.n, np.int64), self.mc + np.arange(self.n))),
                                  shape=(1, self.mc + self.n))
            self.obj_row = int(self.lp.add_rows(theta, upper=float(cutoff))[0])
        else:
            self.lp.set_upper(self.obj_row, float(cutoff))
        out = self.lp.solve_integer(np.arange(self.mc), max(t_end - time.perf_counter(), 0.05), mip_gap,
                                    presolve="on", objective_integral=integral, cutoff=cutoff, options=_NO_LNS)
        x = np.round(out.x[:self.mc]) if out.x is not None else None
        if out.status == "infeasible":
            return "infeasible", None, out.objective, out.bound
        return ("optimal" if out.status == "optimal" else "time_limit"), x, out.objective, out.bound


class PCenter(_PModel):
    r"""p-center: minimise the largest (weighted) travel time to the nearest open facility.

    .. math::
        \min r \quad \text{s.t.} \quad \sum_{j: w_i d_{ij} \le r} x_j \ge 1 \;\forall i,\quad
        \sum_j x_j \le p, \quad x_R = 1

    solved exactly by bisection over the distinct values of :math:`w_i d_{ij}`: a radius is
    feasible when the set-cover MILP (at most ``p`` facilities) has a solution; a greedy
    cover settles most probes without the MILP.

    Parameters
    ----------
    cost_matrix, p, weights, required, demand_ids, candidate_ids : see :class:`PMedian`.
    """

    sense = "min"
    default_presolve = "on"

    def __init__(self, cost_matrix, p, weights=None, required=None, demand_ids=None,
                 candidate_ids=None):
        self._setup(cost_matrix, p, weights, required, demand_ids, candidate_ids)
        keep = self.weights > 0
        self.W = np.where(keep[:, None], self.cost * self.weights[:, None], 0.0)
        self.probes = 0

    def _value(self, selected) -> float:
        sel = np.asarray(selected, np.int64)
        return float(self.W[:, sel].min(axis=1).max()) if sel.size else float("inf")

    def _greedy_cover(self, r):
        """Greedy set cover within radius r, starting from required facilities."""
        A = r >= self.W
        covered = A[:, self.fixed].any(axis=1) if self.fixed.size else np.zeros(A.shape[0], bool)
        sel = list(self.fixed)
        Af = A.astype(np.float32)
        while not covered.all():
            if len(sel) >= self.p:
                return None
            gain = (~covered).astype(np.float32) @ Af
            j = int(np.argmax(gain))
            if gain[j] <= 0:
                return None
            sel.append(j)
            covered |= A[:, j]
        return np.array(sorted(sel), np.int64)

    def _cover_milp(self, r):
        A = sp.csr_matrix(r >= self.W, dtype=float)
        milp = MilpModel("min")
        x = milp.add_vars(self.m, 0.0, 0.0, 1.0, integer=True)
        milp.fix(x[self.fixed], 1.0)
        milp.add_matrix_rows(A, x, lower=1.0)
        milp.add_rows(np.zeros(self.m), x, 1.0, 1, upper=self.p)
        return milp, x

    def _feasible(self, r, t_left, presolve="on", mip_gap=1e-4, lp_only=False):
        """True / False / None (unknown within time) and a selection when feasible."""
        self.probes += 1
        g = self._greedy_cover(r)
        if g is not None:
            return True, g
        if not (r >= self.W).any(axis=1).all():
            return False, None
        milp, x = self._cover_milp(r)
        out = milp.solve(max(t_left, 0.05), mip_gap, presolve, relax=lp_only)
        if out.status == "infeasible":
            return False, None
        if out.x is not None and out.status == "optimal":
            if lp_only:
                return None, None
            return True, np.flatnonzero(out.x[x] > 0.5)
        return None, None

    def _candidates(self, lo, hi):
        vals = np.unique(self.W[np.isfinite(self.W)])
        return vals[(vals >= lo) & (vals <= hi)]

    def _lo(self):
        return float(np.where(np.isfinite(self.W), self.W, np.inf).min(axis=1).max())

    def _heuristic(self, deadline):
        # Gonzalez-style farthest-point start, then bisection with greedy covers
        sel = list(self.fixed)
        if not sel:
            sel = [int(np.argmin(np.where(np.isfinite(self.W), self.W, np.inf).max(axis=0)))]
        while len(sel) < self.p:
            d = self.W[:, sel].min(axis=1)
            i = int(np.argmax(d))
            sel.append(int(np.argmin(np.where(np.isin(np.arange(self.m), sel), np.inf, self.W[i]))))
        best_sel = np.array(sorted(set(sel)), np.int64)
        hi = self._value(best_sel)
        vals = self._candidates(self._lo(), hi)
        a, b = 0, vals.size - 1
        while a < b and time.perf_counter() < deadline:
            mid = (a + b) // 2
            g = self._greedy_cover(vals[mid])
            if g is not None:
                best_sel, b = g, mid
            else:
                a = mid + 1
        return Candidate(best_sel, self._value(best_sel))

    def _relaxation_bound(self, time_limit):
        t_end = time.perf_counter() + time_limit
        lo = self._lo()
        vals = self._candidates(lo, self._heuristic(time.perf_counter() + 1.0).objective)
        a, b = 0, vals.size - 1
        while a < b and time.perf_counter() < t_end:
            mid = (a + b) // 2
            milp, _ = self._cover_milp(vals[mid])
            out = milp.solve(t_end - time.perf_counter(), presolve="off", relax=True)
            if out.status == "infeasible":
                a = mid + 1
            else:
                b = mid
        return float(vals[a]) if vals.size else lo

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        t_end = time.perf_counter() + time_limit
        self.probes = 0
        if start is None:
            start = self._heuristic(time.perf_counter() + 0.25 * time_limit)
        best_sel, hi = start.selected, start.objective
        vals = self._candidates(self._lo(), hi)
        a, b = 0, vals.size - 1  # answer lies in vals[a..b]; vals[b] is feasible
        status = "optimal"
        while a < b:
            left = t_end - time.perf_counter()
            if left <= 0.05:
                status = "time_limit"
                break
            mid = (a + b) // 2
            ok, sel = self._feasible(vals[mid], left, presolve, mip_gap)
            if ok is None:
                status = "time_limit"
                break
            if ok:
                best_sel, b = sel, int(np.searchsorted(vals, self._value(sel)))
                b = min(b, mid)
            else:
                a = mid + 1
        bound = float(vals[a]) if vals.size else hi
        return Candidate(np.asarray(best_sel, np.int64), self._value(best_sel), bound, status,
                         HIGHS_NAME + " (bisection)")

    def _result(self, cand, seconds):
        sel = np.asarray(cand.selected, np.int64)
        dist, assign = self._nearest(sel)
        cand.objective = self._value(sel)
        details = dict(p=self.p, probes=self.probes, mean_distance=float(dist.mean()),
                       n_required=int(self.fixed.size))
        return self._pack(cand, seconds, assignment=assign, covered=np.isfinite(dist).astype(float),
                          distance=dist, details=details)
