"""p-median (ArcGIS "MinimizeImpedance") and p-center models.

The exact p-median solver uses the radius (covering) formulation of Elloumi (2010) and
García, Labbé & Marín (2011) in chained form, with the iterative radius truncation of the
latter: each demand point only keeps the distance levels up to a cap taken from a good
heuristic solution; the truncated model is a relaxation, and when its optimum serves every
point within its cap it is optimal for the full problem, otherwise the caps of the violating
points grow and the model is solved again. Sizes stay a small fraction of the ``n x m``
assignment model, which is what lets all 40 OR-Library instances be proven optimal.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError, SolverError

from ._base import Candidate, SitingModel, gdf_inputs
from ._milp import HIGHS_NAME, MilpModel
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

    def level_of(self, dist: np.ndarray) -> np.ndarray:
        """0-based level of the distance value ``dist[i]`` in row ``i`` (``n_levels`` if inf)."""
        n = dist.size
        pos = np.sum(self.sorted < dist[:, None], axis=1)
        inside = pos < self.n_finite
        return np.where(inside, self.level[np.arange(n), np.minimum(pos, self.sorted.shape[1] - 1)],
                        self.n_levels)


class PMedian(SitingModel):
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

    Truncating at level :math:`K'_i \le K_i` gives a relaxation (costs capped at
    :math:`D_i^{K'_i}`); the solver grows :math:`K'_i` where the relaxed optimum violates
    the cap (García, Labbé & Marín 2011).

    Parameters
    ----------
    cost_matrix : array (n_demand, n_candidates)
        Travel minutes (``inf`` = unreachable).
    p : int
        Facilities to open (including required ones).
    weights : array (n_demand,), optional
    required : bool mask or positions, optional
    demand_ids, candidate_ids : array, optional
    """

    sense = "min"
    default_presolve = "on"

    def __init__(self, cost_matrix, p, weights=None, required=None, demand_ids=None,
                 candidate_ids=None):
        self.cost = as_cost_matrix(cost_matrix)
        n, m = self.cost.shape
        self.m = m
        self.weights = as_weights(weights, n)
        self.fixed = as_index_set(required, m, "required facilities")
        self.p = _check_p(p, self.fixed, m)
        self.demand_ids = demand_ids
        self.candidate_ids = candidate_ids
        self._levels = None
        self.iterations = 0

    @classmethod
    def from_cost_matrix(cls, cost_matrix, weights=None, p=None, **kwargs) -> "PMedian":
        """Build from a travel-minute matrix (spopt argument order)."""
        return cls(cost_matrix, p, weights=weights, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, facilities, cost, p, weights_col=None,
                          facility_type_col=None, demand_id_col=None, facility_id_col=None,
                          **kwargs) -> "PMedian":
        """Build from GeoDataFrames and a cost matrix or routing callable."""
        d = gdf_inputs(demand, facilities, cost, weights_col, facility_type_col, demand_id_col,
                       facility_id_col)
        if d["competitor"] is not None and d["competitor"].any():
            raise InputError("p-median has no competitor semantics; drop competitor facilities")
        kwargs.setdefault("required", d["required"])
        return cls(d["cost"], p, weights=d["weights"], demand_ids=d["demand_ids"],
                   candidate_ids=d["candidate_ids"], **kwargs)

    # ------------------------------------------------------------------ helpers
    def _precheck(self):
        unreachable = ~np.isfinite(self.cost).any(axis=1)
        if unreachable.any():
            bad = np.flatnonzero(unreachable)
            raise SolverError(f"{bad.size} demand points cannot reach any candidate (first ids: "
                              f"{first_ids(self.demand_ids, bad)})")

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
        st, _ = solve_heuristic(self._problem(), max(deadline - time.perf_counter(), 0.01))
        sel = st.selected
        return Candidate(sel, self._objective(sel))

    def _relaxation_bound(self, time_limit):
        return self.lagrangian_bound(time_limit=time_limit)

    def lagrangian_bound(self, iterations: int = 300, time_limit: float = 10.0,
                         upper: float | None = None) -> float:
        r"""Lagrangian lower bound (relaxing :math:`\sum_j y_{ij} = 1`) by subgradient ascent.

        :math:`L(\lambda) = \sum_i \lambda_i + \min_{|S| = p, S \supseteq R}
        \sum_{j \in S} \sum_i \min(0, w_i d_{ij} - \lambda_i)`.
        """
        t_end = time.perf_counter() + time_limit
        W = np.where(np.isfinite(self.cost), self.cost, 1e12 * (1 + np.nanmax(
            np.where(np.isfinite(self.cost), self.cost, 0)))) * self.weights[:, None]
        srt = np.sort(W, axis=1)
        lam = srt[:, min(1, W.shape[1] - 1)].copy()
        if upper is None or not np.isfinite(upper):
            h = self._heuristic(time.perf_counter() + min(5.0, time_limit / 2))
            upper = h.objective
        best = -np.inf
        theta, stall = 2.0, 0
        fixed = self.fixed
        free_p = self.p - fixed.size
        is_fixed = np.zeros(self.m, bool)
        is_fixed[fixed] = True
        for _ in range(iterations):
            if time.perf_counter() > t_end:
                break
            red = np.minimum(W - lam[:, None], 0.0)
            rho = red.sum(axis=0)
            rho_f = np.where(is_fixed, np.inf, rho)
            pick = np.argpartition(rho_f, free_p - 1)[:free_p] if free_p > 0 else np.zeros(0, np.int64)
            S = np.concatenate([fixed, pick]).astype(np.int64)
            L = lam.sum() + rho[S].sum()
            if L > best + 1e-9 * max(1, abs(best)):
                best, stall = L, 0
            else:
                stall += 1
                if stall >= 20:
                    theta, stall = theta / 2, 0
                    if theta < 1e-4:
                        break
            g = 1.0 - (W[:, S] < lam[:, None]).sum(axis=1)
            nrm = float(g @ g)
            if nrm == 0:
                break
            lam = lam + theta * (upper - L) / nrm * g
        return float(best)

    # ------------------------------------------------------------------ exact
    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        t_end = time.perf_counter() + time_limit
        if self._levels is None:
            self._levels = _Levels(self.cost)
        lv = self._levels
        n = self.cost.shape[0]
        if start is None:
            start = self._heuristic(time.perf_counter() + min(0.25 * time_limit, 30.0))
        best = start
        cap_d = self._distances(start.selected)
        if self.fixed.size:
            cap_d = np.minimum(cap_d, self._distances(self.fixed))
        cap = np.minimum(lv.level_of(cap_d), lv.n_levels - 1)
        bound = float("nan")
        status = "time_limit"
        self.iterations = 0
        while True:
            left = t_end - time.perf_counter()
            if left <= 0.05:
                break
            self.iterations += 1
            milp, x = self._radius_milp(cap)
            vals = np.zeros(self.m)
            vals[best.selected] = 1.0
            out = milp.solve(left, mip_gap, presolve, start=(x, vals), verbose=verbose)
            if out.status == "infeasible":
                raise SolverError("p-median: no feasible selection (check p and required facilities)")
            if np.isfinite(out.bound):
                bound = out.bound if not np.isfinite(bound) else max(bound, out.bound)
            if out.x is None:
                break
            sel = np.flatnonzero(out.x[x] > 0.5)
            d = self._distances(sel)
            obj = self._objective(sel)
            if obj < best.objective - 1e-9 * max(1.0, abs(best.objective)):
                best = Candidate(sel, obj)
            lev = lv.level_of(d)
            viol = lev > cap
            if out.status != "optimal":
                break  # time limit inside the MILP: keep its bound, stop
            if not viol.any():
                status = "optimal"
                break
            # grow caps: the violators up to their current distance (plus one level)
            cap = np.where(viol, np.minimum(lev + 1, lv.n_levels - 1), cap)
        if status == "optimal":
            # the relaxed optimum is feasible with equal cost: proven optimal
            bound = min(bound, best.objective) if np.isfinite(bound) else best.objective
        return Candidate(best.selected, best.objective, bound, status, HIGHS_NAME)

    def _radius_milp(self, cap: np.ndarray):
        """Truncated radius model: levels 0..cap[i] (0-based) of each demand row."""
        lv = self._levels
        n, m = self.cost.shape
        w = self.weights
        milp = MilpModel("min")
        x = milp.add_vars(m, 0.0, 0.0, 1.0, integer=True)
        milp.fix(x[self.fixed], 1.0)
        # level values D_i^k (0-based k), for k <= cap_i
        # entries used: sorted positions with level < cap_i (they open levels below the cap)
        active = (lv.level >= 0) & (lv.level < cap[:, None])
        ri, pj = np.nonzero(active)
        ent_level = lv.level[ri, pj]
        ent_col = lv.order[ri, pj]
        # z variables: one per (i, k) with 1 <= k <= cap_i   (k = 0 is the constant 1)
        nz = np.maximum(cap, 0)
        zstart = np.concatenate([[0], np.cumsum(nz)])
        Z = int(zstart[-1])
        # distinct level values per row: first sorted position of each level
        first_pos = self._level_values(cap)
        zi = np.repeat(np.arange(n), nz)
        zk = np.arange(Z) - zstart[zi] + 1  # level index 1..cap_i
        Dk = first_pos[zi, zk] if Z else np.zeros(0)
        Dk1 = first_pos[zi, zk - 1] if Z else np.zeros(0)
        zc = milp.add_vars(Z, w[zi] * (Dk - Dk1), 0.0, 1.0)
        milp.offset = float(w @ lv.sorted[:, 0])
        # row for z_i^k (k>=1): z^k - z^{k-1} + sum_{level k-1} x >= 0 ; k = 1: z^1 + sum_{lvl 0} x >= 1
        row_of_z = np.arange(Z)
        prev = zk >= 2
        e_row = zstart[ri] + ent_level  # entry at level l feeds row of z^{l+1}
        rows = np.concatenate([row_of_z, row_of_z[prev], e_row])
        cols = np.concatenate([zc, zc[row_of_z[prev] - 1], x[ent_col]])
        vals = np.concatenate([np.ones(Z), -np.ones(int(prev.sum())), np.ones(ri.size)])
        lower = np.where(zk == 1, 1.0, 0.0)
        milp.add_rows(rows, cols, vals, Z, lower=lower)
        # demand rows capped at their last finite level must still be reachable
        full = (cap >= lv.n_levels - 1) & (lv.n_finite < m) & (w > 0)
        if full.any():
            fi = np.flatnonzero(full)
            A = np.isfinite(self.cost[fi])
            milp.add_matrix_rows(sp.csr_matrix(A.astype(float)), x, lower=1.0)
        milp.add_rows(np.zeros(m), x, 1.0, 1, lower=self.p, upper=self.p)
        last = np.where(nz > 0, zc[np.maximum(zstart[1:] - 1, 0)] if Z else -1, -1)
        return milp, x, last

    def _level_values(self, cap):
        """Array (n, max_cap+1) with D_i^k for k <= cap_i."""
        lv = self._levels
        n, m = self.cost.shape
        K = int(cap.max()) + 1 if cap.size else 1
        out = np.zeros((n, K))
        fin = lv.level >= 0
        firsts = np.zeros((n, m), bool)
        firsts[:, 0] = fin[:, 0]
        firsts[:, 1:] = fin[:, 1:] & (lv.level[:, 1:] != lv.level[:, :-1])
        ri, pj = np.nonzero(firsts & (lv.level < K))
        out[ri, lv.level[ri, pj]] = lv.sorted[ri, pj]
        return out

    # ------------------------------------------------------------------ result
    def _result(self, cand, seconds):
        sel = np.asarray(cand.selected, np.int64)
        sub = self.cost[:, sel]
        k = np.argmin(sub, axis=1)
        dist = sub[np.arange(sub.shape[0]), k]
        assign = np.where(np.isfinite(dist), sel[k], -1)
        cand.objective = self._objective(sel)
        w = self.weights
        details = dict(p=self.p, mean_distance=float(w @ dist / w.sum()) if w.sum() > 0 else float("nan"),
                       max_distance=float(dist.max()), iterations=self.iterations,
                       n_required=int(self.fixed.size))
        return self._pack(cand, seconds, assignment=assign, covered=np.isfinite(dist).astype(float),
                          distance=dist, details=details)


class PCenter(SitingModel):
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
        self.cost = as_cost_matrix(cost_matrix)
        n, m = self.cost.shape
        self.m = m
        self.weights = as_weights(weights, n)
        self.fixed = as_index_set(required, m, "required facilities")
        self.p = _check_p(p, self.fixed, m)
        self.demand_ids = demand_ids
        self.candidate_ids = candidate_ids
        keep = self.weights > 0
        self.W = np.where(keep[:, None], self.cost * self.weights[:, None], 0.0)
        self.probes = 0

    @classmethod
    def from_cost_matrix(cls, cost_matrix, weights=None, p=None, **kwargs) -> "PCenter":
        return cls(cost_matrix, p, weights=weights, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, facilities, cost, p, weights_col=None,
                          facility_type_col=None, demand_id_col=None, facility_id_col=None,
                          **kwargs) -> "PCenter":
        d = gdf_inputs(demand, facilities, cost, weights_col, facility_type_col, demand_id_col,
                       facility_id_col)
        kwargs.setdefault("required", d["required"])
        return cls(d["cost"], p, weights=d["weights"], demand_ids=d["demand_ids"],
                   candidate_ids=d["candidate_ids"], **kwargs)

    def _precheck(self):
        unreachable = ~np.isfinite(self.cost).any(axis=1)
        if unreachable.any():
            bad = np.flatnonzero(unreachable)
            raise SolverError(f"{bad.size} demand points cannot reach any candidate (first ids: "
                              f"{first_ids(self.demand_ids, bad)})")

    def _value(self, selected) -> float:
        sel = np.asarray(selected, np.int64)
        return float(self.W[:, sel].min(axis=1).max()) if sel.size else float("inf")

    def _greedy_cover(self, r):
        """Greedy set cover within radius r, starting from required facilities."""
        A = self.W <= r
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
        A = sp.csr_matrix(self.W <= r, dtype=float)
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
        if not (self.W <= r).any(axis=1).all():
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
        sub = self.cost[:, sel]
        k = np.argmin(sub, axis=1)
        dist = sub[np.arange(sub.shape[0]), k]
        assign = np.where(np.isfinite(dist), sel[k], -1)
        cand.objective = self._value(sel)
        details = dict(p=self.p, probes=self.probes, mean_distance=float(dist.mean()),
                       n_required=int(self.fixed.size))
        return self._pack(cand, seconds, assignment=assign, covered=np.isfinite(dist).astype(float),
                          distance=dist, details=details)
