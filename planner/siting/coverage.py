"""Coverage models: MCLP (with budget, decay, required and competitor facilities), LSCP and
capacitated coverage.

Travel costs are minutes, demand rows x candidate columns, ``inf`` = unreachable. Facility
semantics follow ArcGIS Location-Allocation: *required* facilities are always open (they
count towards ``p`` but not towards a budget: they exist already); *competitor* facilities
are never chosen and the demand they reach within the radius is taken by them (a share
``competitor_share`` of its weight, 1 by default, is no longer available).
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError, SolverError

from ._base import (
    Candidate,
    SitingModel,
    count_budget_rows,
    coverage_block,
    gdf_inputs,
    merge_rows,
    solve_started,
    started_candidate,
)
from ._milp import MilpModel
from ._search import SearchProblem, evaluate, solve_heuristic
from ._validate import as_candidate_values, as_cost_matrix, as_index_set, as_weights, first_ids
from .decay import Decay, coverage_values

__all__ = ["MCLP", "LSCP", "CapacitatedCoverage"]

#: HiGHS options used when our heuristic already supplies a start: HiGHS' large-neighbourhood
#: primal heuristics (RINS/RENS/root reduced-cost) then mostly cost time. Measured on 9 MCLP
#: variants (200 x 2,000 grid instance, radius 5/8/12 min, p 5/10/20): 8.2 s total vs 17.9 s.
START_OPTIONS = {"mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                  "mip_heuristic_run_root_reduced_cost": False}


def _check_radius(radius) -> float:
    if radius is None:
        raise InputError("a coverage radius (minutes) is required")
    r = float(radius)
    if not np.isfinite(r) or r <= 0:
        raise InputError(f"coverage radius must be positive minutes, got {radius}")
    return r


def _competitor_cover(cost, competitor, radius) -> np.ndarray:
    """Per demand row: reached by a competitor within the radius."""
    if competitor.size == 0:
        return np.zeros(cost.shape[0], bool)
    return np.any(cost[:, competitor] <= radius, axis=1)


def _gdf_args(demand, facilities, cost, weights_col, facility_type_col, candidate_cost_col, demand_id_col,
              facility_id_col, kwargs: dict) -> dict:
    """:func:`~planner.siting._base.gdf_inputs`; sets the ``candidate_cost`` (from
    ``candidate_cost_col``), ``required`` and ``competitor`` keyword arguments in ``kwargs``."""
    d = gdf_inputs(demand, facilities, cost, weights_col, facility_type_col, demand_id_col,
                   facility_id_col)
    if candidate_cost_col is not None:
        kwargs["candidate_cost"] = facilities[candidate_cost_col].to_numpy(dtype=float)
    kwargs.setdefault("required", d["required"])
    kwargs.setdefault("competitor", d["competitor"])
    return d


def _check_share(share) -> float:
    s = float(share)
    if not 0 <= s <= 1:
        raise InputError(f"competitor_share must be in [0, 1], got {share}")
    return s


class CoverageModelBase(SitingModel):
    """Common machinery of maximal-coverage models on a sparse value matrix.

    Subclasses set ``F`` (values in [0, 1]), ``weights`` (effective demand weights),
    ``p``/``budget``/``ccost``, ``fixed``, ``allowed`` and optionally ``cost``.
    """

    sense = "max"
    default_presolve = "off"
    _label = "demand points"

    def _setup_selection(self, m, p, budget, candidate_cost, required, blocked):
        self.m = m
        self.fixed = as_index_set(required, m, "required facilities")
        self.allowed = np.ones(m, bool)
        self.allowed[blocked] = False
        if np.any(~self.allowed[self.fixed]):
            raise InputError("a facility cannot be both required and competitor")
        self.allowed[self.fixed] = False
        if p is None and budget is None:
            raise InputError("give the number of facilities p or a budget")
        self.p = None
        if p is not None:
            p = int(p)
            if p < 1:
                raise InputError(f"p must be at least 1, got {p}")
            if p < self.fixed.size:
                raise InputError(f"p = {p} is smaller than the {self.fixed.size} required facilities "
                                 "(p counts required facilities)")
            avail = int(self.allowed.sum()) + self.fixed.size
            if p > avail and budget is None:
                raise InputError(f"p = {p} but only {avail} facilities can be chosen")
            self.p = p
        self.budget = None if budget is None else float(budget)
        if self.budget is not None and (not np.isfinite(self.budget) or self.budget < 0):
            raise InputError(f"budget must be a non-negative number, got {budget}")
        self.ccost = as_candidate_values(candidate_cost, m, "candidate costs", default=1.0)
        self.ccost_eff = self.ccost.copy()
        self.ccost_eff[self.fixed] = 0.0  # required facilities exist: no budget

    def _set_values(self, decay) -> None:
        """``F``: coverage values of the cost matrix, zero in columns that can never open."""
        F = coverage_values(self.cost, self.radius, decay)
        keep = (self.allowed | np.isin(np.arange(self.m), self.fixed)).astype(float)
        self.F = (F @ sp.diags(keep)).tocsr()
        self.F.eliminate_zeros()

    def _precheck(self):
        if self.budget is not None and self.fixed.size == 0:
            cheapest = self.ccost_eff[self.allowed].min() if self.allowed.any() else np.inf
            if cheapest > self.budget:
                raise SolverError(f"budget {self.budget:g} is below the cheapest candidate "
                                  f"({cheapest:g}); no facility can be opened")

    # ---- heuristic ------------------------------------------------------------------
    def _problem(self) -> SearchProblem:
        V = sp.diags(self.weights) @ self.F
        return SearchProblem(V=V, p=self.p, budget=self.budget, cost=self.ccost_eff,
                             fixed=self.fixed, allowed=self.allowed)

    def _heuristic(self, deadline):
        P = self._problem()
        st, _ = solve_heuristic(P, max(deadline - time.perf_counter(), 0.01), kicks=self._kicks)
        return Candidate(st.selected, st.objective)

    # ---- exact ----------------------------------------------------------------------
    def _reduced(self):
        r"""Exact model reduction before the MILP.

        * demand already served by required facilities keeps only the value above it
          (:math:`F'_{ij} = (F_{ij} - v_i)^+`, the rest is a constant);
        * empty and duplicate candidate columns are dropped (the cheapest copy stays); with
          plain coverage a candidate whose covered set is contained in another candidate's
          set that costs no more is dropped (swapping it for the larger one never hurts);
        * identical demand rows are merged (weights added) and empty rows dropped.

        The count row becomes :math:`\le p` (coverage is monotone), and the solution is padded
        back to ``p`` facilities afterwards.
        """
        F = sp.csc_matrix(self.F)
        w = self.weights.astype(float)
        const = 0.0
        if self.fixed.size:
            v = np.asarray(F[:, self.fixed].max(axis=1).todense()).ravel()
            const = float(w @ v)
            Fc = F.tocoo()
            d = np.maximum(Fc.data - v[Fc.row], 0.0)
            F = sp.csc_matrix((d, (Fc.row, Fc.col)), shape=F.shape)
            F.eliminate_zeros()
        cand = np.flatnonzero(self.allowed)
        cost = self.ccost_eff[cand]
        F = F[:, cand]
        # empty columns
        nnz = np.diff(F.indptr)
        keep = nnz > 0
        F, cand, cost = F[:, keep], cand[keep], cost[keep]
        rng = np.random.default_rng(12345)
        # duplicate columns: identical hash of (row, value); keep the cheapest
        if F.shape[1] > 1:
            r1, r2 = rng.random(F.shape[0]), rng.random(F.shape[0])
            h = np.round(F.T @ r1, 12) + 1j * np.round(F.T @ r2, 12)
            order = np.lexsort((cand, cost, h.imag, h.real))
            hs = h[order]
            first = np.ones(order.size, bool)
            first[1:] = hs[1:] != hs[:-1]
            keep = np.zeros(order.size, bool)
            keep[order[first]] = True
            F, cand, cost = F[:, keep], cand[keep], cost[keep]
        binary = F.nnz == 0 or np.all(F.data == 1.0)
        if binary and F.shape[1] > 1:
            A = sp.csc_matrix((np.ones(F.nnz), F.indices, F.indptr), shape=F.shape)
            size = np.diff(A.indptr)
            G = (A.T @ A).tocoo()  # |N_j & N_k|
            j, k = G.row, G.col
            sub = (j != k) & (G.data == size[j]) & (cost[k] <= cost[j])
            # identical sets are gone, so subset => strictly smaller set
            dom = np.zeros(F.shape[1], bool)
            dom[j[sub]] = True
            keep = ~dom
            F, cand, cost = F[:, keep], cand[keep], cost[keep]
        R, wr, _ = merge_rows(F, w)
        return R.tocsr(), wr, cand, cost, const

    def _milp(self):
        F, w, cand, cost, const = self._reduced()
        self._red = (cand, const)
        milp = MilpModel("max")
        x = milp.add_vars(cand.size, 0.0, 0.0, 1.0, integer=True)
        coverage_block(milp, F, x, w)
        milp.offset = const
        if self.p is not None:
            milp.add_rows(np.zeros(cand.size), x, 1.0, 1, upper=self.p - self.fixed.size)
        if self.budget is not None:
            milp.add_rows(np.zeros(cand.size), x, cost, 1, upper=self.budget)
        return milp, x

    def _pad(self, sel):
        """Add zero-gain candidates until ``p`` are open (the reduced model used <= p)."""
        sel = np.union1d(np.asarray(sel, np.int64), self.fixed)
        if self.p is None or sel.size >= self.p:
            return sel
        is_open = np.zeros(self.m, bool)
        is_open[sel] = True
        spent = float(self.ccost_eff[is_open].sum())
        size = np.asarray((self.F != 0).sum(axis=0)).ravel()
        order = np.lexsort((self.ccost_eff, -size))
        for j in order:
            if sel.size >= self.p:
                break
            if is_open[j] or not self.allowed[j]:
                continue
            if self.budget is not None and spent + self.ccost_eff[j] > self.budget + 1e-9:
                continue
            is_open[j] = True
            spent += self.ccost_eff[j]
            sel = np.flatnonzero(is_open)
        return sel

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        milp, x = self._milp()
        cand, const = self._red
        st = None
        if start is not None:
            vals = np.isin(cand, start.selected).astype(float)
            st = (x, vals)
        out = milp.solve(time_limit, mip_gap, presolve, start=st, verbose=verbose,
                         options=START_OPTIONS if st is not None else None)
        if out.status == "infeasible":
            raise SolverError(f"{type(self).__name__}: no feasible selection (check p, budget and "
                              "required facilities)")
        if out.x is None:
            return None
        sel = self._pad(cand[out.x[x] > 0.5])
        obj = self._objective(sel)
        return self._outcome_to_candidate(out, sel, obj)

    # ---- evaluation -----------------------------------------------------------------
    def _state(self, selected):
        P = SearchProblem(V=self.F, fixed=np.zeros(0, np.int64))
        return evaluate(P, selected)

    def _objective(self, selected) -> float:
        return float(self.weights @ self._state(selected).b1)

    def _result(self, cand: Candidate, seconds: float):
        st = self._state(cand.selected)
        covered = st.b1
        obj = float(self.weights @ covered)
        cand.objective = obj
        dist = None
        if getattr(self, "cost", None) is not None:
            dist = np.full(covered.size, np.inf)
            ok = st.a1 >= 0
            dist[ok] = self.cost[np.flatnonzero(ok), st.a1[ok]]
        total = float(self.weights_raw.sum())
        avail = float(self.weights.sum())
        details = dict(total_weight=total, available_weight=avail, covered_weight=obj,
                       covered_share=obj / avail if avail > 0 else float("nan"),
                       n_uncovered=int(np.sum(covered <= 0)), p=self.p, budget=self.budget,
                       spent=float(self.ccost_eff[cand.selected].sum()),
                       n_required=int(self.fixed.size))
        details.update(self._extra_details())
        return self._pack(cand, seconds, assignment=st.a1, covered=covered, distance=dist,
                          details=details)

    def _extra_details(self) -> dict:
        return {}


class MCLP(CoverageModelBase):
    r"""Maximal covering location problem (Church & ReVelle 1974), ArcGIS "MaximizeCoverage"
    and, with a decay function, "MaximizeAttendance".

    With :math:`x_j \in \{0, 1\}` (open candidate :math:`j`), :math:`y_i \in [0, 1]` (demand
    :math:`i` covered) and :math:`N_i = \{j : d_{ij} \le r\}`:

    .. math::
        \max \sum_i \tilde w_i \, y_i \quad \text{s.t.} \quad
        y_i \le \sum_{j \in N_i} x_j \;\; \forall i, \qquad
        \sum_j x_j = p \;\; \text{and/or} \;\; \sum_{j \notin R} c_j x_j \le B, \qquad
        x_j = 1 \;\; \forall j \in R

    where :math:`R` are required facilities and
    :math:`\tilde w_i = w_i (1 - s \, [\exists k \in K: d_{ik} \le r])` the weight left after
    competitors :math:`K` take a share :math:`s`. (With both ``p`` and a budget the count row
    becomes :math:`\le p`.)

    With a decay function :math:`f` the objective becomes
    :math:`\sum_i \tilde w_i \max_{j \text{ open}} f(d_{ij})`, written exactly with level
    variables (see :func:`planner.siting._base.coverage_block`): for the distinct values
    :math:`v_i^1 > \dots > v_i^{K_i} > 0` of :math:`f(d_{ij})`,

    .. math::
        \max \sum_i \tilde w_i \sum_k (v_i^k - v_i^{k+1}) u_i^k, \quad
        u_i^k \le u_i^{k-1} + \sum_{j: f(d_{ij}) = v_i^k} x_j .

    Parameters
    ----------
    cost_matrix : array (n_demand, n_candidates)
        Travel minutes, ``inf`` for unreachable.
    radius : float
        Coverage radius in minutes (also the decay cutoff unless the decay sets one).
    weights : array (n_demand,), optional
    p : int, optional
        Facilities to open, including required ones.
    budget : float, optional
        Budget for new facilities, with ``candidate_cost`` (default 1 each).
    candidate_cost : array (n_candidates,), optional
    required : bool mask or positions, optional
        Facilities that are always open.
    competitor : bool mask or positions, optional
        Columns that are competitor facilities (never chosen).
    competitor_share : float
        Share of the weight of demand within a competitor's radius that the competitor takes.
    decay : Decay, optional
    demand_ids, candidate_ids : array, optional
    """

    def __init__(self, cost_matrix, radius, weights=None, p=None, budget=None, candidate_cost=None,
                 required=None, competitor=None, competitor_share=1.0, decay: Decay | None = None,
                 demand_ids=None, candidate_ids=None):
        self.cost = as_cost_matrix(cost_matrix)
        n, m = self.cost.shape
        self.radius = _check_radius(radius)
        self.decay = decay
        self.weights_raw = as_weights(weights, n)
        comp = as_index_set(competitor, m, "competitor facilities")
        self.competitor = comp
        self.competitor_share = _check_share(competitor_share)
        self.competitor_covered = _competitor_cover(self.cost, comp, self.radius if decay is None or
                                                    decay.cutoff is None else decay.cutoff)
        self.weights = self.weights_raw * np.where(self.competitor_covered, 1 - self.competitor_share, 1.0)
        self._setup_selection(m, p, budget, candidate_cost, required, comp)
        self._set_values(decay)
        self.demand_ids = demand_ids
        self.candidate_ids = candidate_ids

    @classmethod
    def from_cost_matrix(cls, cost_matrix, weights=None, radius=None, p=None, **kwargs) -> MCLP:
        """Build from a travel-minute matrix; keyword arguments as in the class."""
        return cls(cost_matrix, radius, weights=weights, p=p, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, facilities, cost, radius, p=None, weights_col=None,
                          facility_type_col=None, candidate_cost_col=None, demand_id_col=None,
                          facility_id_col=None, **kwargs) -> MCLP:
        """Build from demand / facility GeoDataFrames and a cost matrix or routing callable.

        ``facility_type_col`` holds ArcGIS facility types (candidate / required / competitor);
        ``candidate_cost_col`` the per-facility cost for a budget.
        """
        d = _gdf_args(demand, facilities, cost, weights_col, facility_type_col, candidate_cost_col, demand_id_col,
                      facility_id_col, kwargs)
        return cls(d["cost"], radius, weights=d["weights"], p=p, demand_ids=d["demand_ids"],
                   candidate_ids=d["candidate_ids"], **kwargs)

    def _extra_details(self):
        return dict(radius=self.radius, decay=None if self.decay is None else self.decay.kind,
                    n_competitor_covered=int(self.competitor_covered.sum()))


class LSCP(SitingModel):
    r"""Location set covering problem (Toregas et al. 1971), ArcGIS "MinimizeFacilities".

    .. math::
        \min \sum_{j \notin R} c_j x_j \quad \text{s.t.} \quad
        \sum_{j \in N_i} x_j \ge 1 \;\; \forall i \in I, \qquad x_j = 1 \;\; \forall j \in R,
        \qquad x_j \in \{0, 1\}

    with :math:`N_i = \{j : d_{ij} \le r\}`, :math:`c_j = 1` unless candidate costs are
    given, and :math:`I` the demand points with positive weight that no competitor already
    covers. Raises :class:`~planner.errors.SolverError` naming the demand points that no
    candidate reaches within the radius.

    Parameters
    ----------
    cost_matrix, radius, weights, candidate_cost, required, competitor, demand_ids,
    candidate_ids : see :class:`MCLP`.
    """

    sense = "min"
    default_presolve = "off"

    def __init__(self, cost_matrix, radius, weights=None, candidate_cost=None, required=None,
                 competitor=None, demand_ids=None, candidate_ids=None):
        self.cost = as_cost_matrix(cost_matrix)
        n, m = self.cost.shape
        self.m = m
        self.radius = _check_radius(radius)
        self.weights_raw = as_weights(weights, n)
        comp = as_index_set(competitor, m, "competitor facilities")
        self.fixed = as_index_set(required, m, "required facilities")
        if np.intersect1d(comp, self.fixed).size:
            raise InputError("a facility cannot be both required and competitor")
        self.allowed = np.ones(m, bool)
        self.allowed[comp] = False
        self.ccost = as_candidate_values(candidate_cost, m, "candidate costs", default=1.0)
        self.ccost_eff = self.ccost.copy()
        self.ccost_eff[self.fixed] = 0.0
        self.competitor_covered = _competitor_cover(self.cost, comp, self.radius)
        self.need = (self.weights_raw > 0) & ~self.competitor_covered
        A = sp.csc_matrix(self.cost <= self.radius)
        A = A @ sp.diags(self.allowed.astype(float))
        self.A = sp.csr_matrix(A, dtype=float)
        self.A.eliminate_zeros()
        self.demand_ids = demand_ids
        self.candidate_ids = candidate_ids

    @classmethod
    def from_cost_matrix(cls, cost_matrix, radius=None, **kwargs) -> LSCP:
        """Build from a travel-minute matrix; keyword arguments as in the class."""
        return cls(cost_matrix, radius, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, facilities, cost, radius, weights_col=None,
                          facility_type_col=None, candidate_cost_col=None, demand_id_col=None,
                          facility_id_col=None, **kwargs) -> LSCP:
        """Build from GeoDataFrames (see :meth:`MCLP.from_geodataframe`)."""
        d = _gdf_args(demand, facilities, cost, weights_col, facility_type_col, candidate_cost_col, demand_id_col,
                      facility_id_col, kwargs)
        return cls(d["cost"], radius, weights=d["weights"], demand_ids=d["demand_ids"],
                   candidate_ids=d["candidate_ids"], **kwargs)

    def _precheck(self):
        reach = np.asarray(self.A.sum(axis=1)).ravel() > 0
        bad = np.flatnonzero(self.need & ~reach)
        if bad.size:
            raise SolverError(f"full coverage is impossible: {bad.size} demand points have no "
                              f"candidate within {self.radius:g} min (first ids: "
                              f"{first_ids(self.demand_ids, bad)})")

    def _heuristic(self, deadline):
        A = self.A.tocsc()
        covered = ~self.need.copy()
        is_open = np.zeros(self.m, bool)
        is_open[self.fixed] = True
        if self.fixed.size:
            covered |= np.asarray(self.A[:, self.fixed].sum(axis=1)).ravel() > 0
        cost = np.maximum(self.ccost_eff, 1e-9)
        while not covered.all():
            gain = A.T @ (~covered).astype(float)
            gain[is_open | ~self.allowed] = 0
            if gain.max() <= 0:
                return None
            j = int(np.argmax(gain / cost))
            is_open[j] = True
            covered |= A[:, [j]].toarray().ravel() > 0
        # drop redundant facilities, most expensive first
        cnt = self.A @ is_open.astype(float)
        for j in np.flatnonzero(is_open & self.allowed)[np.argsort(-self.ccost_eff[is_open & self.allowed])]:
            if j in self.fixed:
                continue
            col = A[:, [j]].toarray().ravel() > 0
            if np.all(cnt[col & self.need] >= 2):
                is_open[j] = False
                cnt -= col
        sel = np.flatnonzero(is_open)
        return Candidate(sel, float(self.ccost_eff[sel].sum()))

    def _milp(self):
        milp = MilpModel("min")
        ub = (self.allowed | np.isin(np.arange(self.m), self.fixed)).astype(float)
        x = milp.add_vars(self.m, self.ccost_eff, 0.0, ub, integer=True)
        milp.fix(x[self.fixed], 1.0)
        rows = np.flatnonzero(self.need)
        milp.add_matrix_rows(self.A[rows], x, lower=1.0)
        return milp, x

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        milp, x = self._milp()
        return started_candidate(milp, x, start, time_limit, mip_gap, presolve, verbose,
                                  "full coverage is impossible with the candidate set",
                                  lambda sel: float(self.ccost_eff[sel].sum()))

    def _result(self, cand, seconds):
        sel = np.asarray(cand.selected, np.int64)
        sub = self.cost[:, sel]
        if sel.size:
            k = np.argmin(sub, axis=1)
            dist = sub[np.arange(sub.shape[0]), k]
            assign = np.where(dist <= self.radius, sel[k], -1)
        else:
            dist = np.full(self.cost.shape[0], np.inf)
            assign = np.full(self.cost.shape[0], -1)
        covered = (assign >= 0).astype(float)
        details = dict(radius=self.radius, n_facilities=int(sel.size), n_new=int(sel.size - self.fixed.size),
                       n_required=int(self.fixed.size),
                       n_competitor_covered=int(self.competitor_covered.sum()),
                       n_need=int(self.need.sum()))
        return self._pack(cand, seconds, assignment=assign, covered=covered, distance=dist,
                          details=details)


class CapacitatedCoverage(CoverageModelBase):
    r"""Capacitated maximal coverage (ArcGIS "MaximizeCapacitatedCoverage").

    Demand :math:`i` has quantity :math:`q_i`, candidate :math:`j` capacity :math:`Q_j`; a
    demand may be split among facilities within the radius (``single_source=False``) or
    must go to one (``True``). With :math:`E = \{(i, j): d_{ij} \le r\}`:

    .. math::
        \max \sum_{(i,j) \in E} \tilde q_i f(d_{ij}) z_{ij} \quad \text{s.t.} \quad
        \sum_j z_{ij} \le 1, \;\;
        \sum_i \tilde q_i z_{ij} \le Q_j x_j, \;\;
        z_{ij} \le x_j, \;\;
        \sum_j x_j = p \text{ and/or } \sum_j c_j x_j \le B, \;\; x_R = 1

    :math:`z_{ij} \in [0, 1]` (or binary), :math:`f \equiv 1` without decay, and
    :math:`\tilde q` the quantity left after competitors (see :class:`MCLP`).

    Parameters
    ----------
    cost_matrix, radius, p, budget, candidate_cost, required, competitor, competitor_share,
    decay, demand_ids, candidate_ids : see :class:`MCLP`.
    demand : array (n_demand,)
        Demand quantities (also the weights).
    capacity : array (n_candidates,) or float
        Facility capacities in the same unit.
    single_source : bool
        Each demand point is served by at most one facility.
    """

    def __init__(self, cost_matrix, radius, demand, capacity, p=None, budget=None,
                 candidate_cost=None, required=None, competitor=None, competitor_share=1.0,
                 decay: Decay | None = None, single_source: bool = False, demand_ids=None,
                 candidate_ids=None):
        self.cost = as_cost_matrix(cost_matrix)
        n, m = self.cost.shape
        self.radius = _check_radius(radius)
        self.decay = decay
        self.weights_raw = as_weights(demand, n, "demand quantities")
        self.capacity = as_candidate_values(capacity, m, "facility capacities")
        comp = as_index_set(competitor, m, "competitor facilities")
        self.competitor_share = _check_share(competitor_share)
        self.competitor_covered = _competitor_cover(self.cost, comp, self.radius)
        self.weights = self.weights_raw * np.where(self.competitor_covered, 1 - self.competitor_share, 1.0)
        self._setup_selection(m, p, budget, candidate_cost, required, comp)
        self._set_values(decay)
        self.single_source = bool(single_source)
        self.demand_ids = demand_ids
        self.candidate_ids = candidate_ids
        self._z_cache = None

    @classmethod
    def from_cost_matrix(cls, cost_matrix, demand, capacity, radius=None, p=None, **kwargs):
        """Build from a travel-minute matrix; keyword arguments as in the class."""
        return cls(cost_matrix, radius, demand, capacity, p=p, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, facilities, cost, radius, demand_col, capacity_col, p=None,
                          facility_type_col=None, candidate_cost_col=None, demand_id_col=None,
                          facility_id_col=None, **kwargs):
        """Build from GeoDataFrames; ``demand_col`` / ``capacity_col`` name the quantities."""
        d = _gdf_args(demand, facilities, cost, demand_col, facility_type_col, candidate_cost_col, demand_id_col,
                      facility_id_col, kwargs)
        return cls(d["cost"], radius, d["weights"], facilities[capacity_col].to_numpy(dtype=float),
                   p=p, demand_ids=d["demand_ids"], candidate_ids=d["candidate_ids"], **kwargs)

    # ---- model ----------------------------------------------------------------------
    def _milp(self, fixed_open=None):
        milp = MilpModel("max")
        m = self.m
        ub = (self.allowed | np.isin(np.arange(m), self.fixed)).astype(float)
        x = milp.add_vars(m, 0.0, 0.0, ub, integer=fixed_open is None)
        milp.fix(x[self.fixed], 1.0)
        if fixed_open is not None:
            milp.fix(x, 0.0)
            milp.fix(x[fixed_open], 1.0)
        F = sp.coo_matrix(self.F)
        E = F.nnz
        q = self.weights
        z = milp.add_vars(E, q[F.row] * F.data, 0.0, 1.0, integer=self.single_source)
        n = self.F.shape[0]
        milp.add_rows(F.row, z, 1.0, n, upper=1.0)  # sum_j z_ij <= 1
        # sum_i q_i z_ij - Q_j x_j <= 0
        milp.add_rows(np.concatenate([F.col, np.arange(m)]), np.concatenate([z, x]),
                      np.concatenate([q[F.row], -self.capacity]), m, upper=0.0)
        # z_ij - x_j <= 0
        e = np.arange(E)
        milp.add_rows(np.concatenate([e, e]), np.concatenate([z, x[F.col]]),
                      np.concatenate([np.ones(E), -np.ones(E)]), E, upper=0.0)
        count_budget_rows(milp, x, self.p, self.budget, self.ccost_eff)
        return milp, x, z, F

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        milp, x, z, F = self._milp()
        out, sel = solve_started(milp, x, start, time_limit, mip_gap, presolve, verbose,
                                  "capacitated coverage: no feasible selection (check p, budget and "
                                  "required facilities)")
        if sel is None:
            return None
        self._z_cache = (tuple(sel), out.x[z])
        return self._outcome_to_candidate(out, sel, float(out.objective))

    def _allocate(self, selected):
        """Optimal allocation for a fixed set of open facilities (an LP)."""
        key = tuple(np.sort(np.asarray(selected, np.int64)))
        if self._z_cache is not None and self._z_cache[0] == key:
            return self._z_cache[1]
        milp, x, z, F = self._milp(fixed_open=np.asarray(selected, np.int64))
        if self.single_source:
            out = milp.solve(30.0, 1e-6, "on")
        else:
            out = milp.solve(30.0, presolve="on", relax=True)
        zval = out.x[z] if out.x is not None else np.zeros(F.nnz)
        self._z_cache = (key, zval)
        return zval

    def _objective(self, selected) -> float:
        F = sp.coo_matrix(self.F)
        z = self._allocate(selected)
        return float(np.sum(self.weights[F.row] * F.data * z))

    def _heuristic(self, deadline):
        F = sp.csc_matrix(self.F)
        q = self.weights
        resid = q.copy()
        is_open = np.zeros(self.m, bool)
        spent = 0.0
        cap = self.capacity
        order = list(self.fixed)
        while True:
            if order:
                j = order.pop(0)
            else:
                if self.p is not None and is_open.sum() >= self.p:
                    break
                if time.perf_counter() > deadline:
                    break
                reach = F.T @ resid  # value-weighted residual demand within reach
                tot = (F != 0).astype(float).T @ resid
                gain = np.where(tot > 0, reach * np.minimum(1.0, cap / np.maximum(tot, 1e-12)), 0.0)
                ok = self.allowed & ~is_open
                if self.budget is not None:
                    ok &= spent + self.ccost_eff <= self.budget + 1e-9
                    score = np.where(ok & (gain > 0), gain / np.maximum(self.ccost_eff, 1e-9), -np.inf)
                else:
                    score = np.where(ok, gain, -np.inf)
                if not np.isfinite(score.max()):
                    break
                j = int(np.argmax(score))
            is_open[j] = True
            spent += self.ccost_eff[j]
            # fill facility j with the best-valued residual demand it reaches
            lo, hi = F.indptr[j], F.indptr[j + 1]
            rows, vals = F.indices[lo:hi], F.data[lo:hi]
            o = np.argsort(-vals, kind="stable")
            rows = rows[o]
            take = np.minimum(resid[rows], np.maximum(cap[j] - np.concatenate([[0], np.cumsum(resid[rows])[:-1]]), 0))
            resid[rows] -= take
        sel = np.flatnonzero(is_open)
        if sel.size == 0:
            return None
        return Candidate(sel, self._objective(sel), solver="greedy")

    def _result(self, cand, seconds):
        sel = np.asarray(cand.selected, np.int64)
        F = sp.coo_matrix(self.F)
        z = self._allocate(sel)
        n = self.F.shape[0]
        share = np.bincount(F.row, weights=z, minlength=n)
        Z = sp.csr_matrix((z, (F.row, F.col)), shape=self.F.shape)
        assign = np.asarray(Z.argmax(axis=1)).ravel()
        assign = np.where(share > 1e-9, assign, -1)
        dist = np.full(n, np.inf)
        ok = assign >= 0
        dist[ok] = self.cost[np.flatnonzero(ok), assign[ok]]
        cand.objective = float(np.sum(self.weights[F.row] * F.data * z))
        load = np.bincount(F.col, weights=self.weights[F.row] * z, minlength=self.m)
        details = dict(radius=self.radius, total_demand=float(self.weights_raw.sum()),
                       available_demand=float(self.weights.sum()),
                       served_demand=float(np.sum(self.weights * share)),
                       load=load[sel], utilisation=np.where(self.capacity[sel] > 0,
                                                            load[sel] / np.maximum(self.capacity[sel], 1e-12), 0.0),
                       p=self.p, budget=self.budget, spent=float(self.ccost_eff[sel].sum()))
        return self._pack(cand, seconds, assignment=assign, covered=np.clip(share, 0, 1),
                          distance=dist, details=details)
