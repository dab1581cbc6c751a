"""Shared plumbing: the solve() orchestration and GeoDataFrame input handling."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError, SolverError

from ._milp import HIGHS_NAME, MilpModel
from ._validate import as_cost_matrix
from .result import SitingResult, relative_gap

__all__ = ["SitingModel", "Candidate", "gdf_inputs", "METHODS"]

METHODS = ("exact", "heuristic", "auto")

#: Share of the time limit the heuristic may use before the exact solver starts ("auto").
_AUTO_HEURISTIC_SHARE = 0.25


@dataclass
class Candidate:
    """One candidate solution: open columns, its objective and (optional) proven bound."""

    selected: np.ndarray
    objective: float
    bound: float = float("nan")
    status: str = "heuristic"
    solver: str = "greedy+swap"


class SitingModel:
    """Base class: ``solve`` runs a heuristic and/or the exact MILP and packs the result.

    Subclasses implement ``_heuristic(deadline) -> Candidate | None``,
    ``_exact(time_limit, mip_gap, presolve, start, verbose) -> Candidate``,
    ``_relaxation_bound(time_limit) -> float`` (default: the LP relaxation of the model's
    ``_milp()``, whose first return value is the :class:`MilpModel`) and
    ``_result(candidate, seconds)``.
    """

    sense = "max"
    default_presolve = "off"
    _kicks_heuristic = 30
    _kicks_auto = 5
    _kicks = 30

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-4, method: str = "auto",
              presolve: str | bool | None = None, verbose: bool = False) -> SitingResult:
        """Solve the model.

        Parameters
        ----------
        time_limit : float
            Wall-clock seconds for the whole call (heuristic + MILP).
        mip_gap : float
            Relative gap at which the MILP counts as solved (``status == "optimal"``).
        method : {"auto", "exact", "heuristic"}
            ``"exact"``: HiGHS MILP only. ``"heuristic"``: greedy + swap local search, with a
            bound from a relaxation (LP or Lagrangian) and the gap to it. ``"auto"``: the
            heuristic solution is passed to HiGHS as a start; the best solution found within
            the time limit is returned, with HiGHS' bound.
        presolve : {"on", "off", "choose"} or bool, optional
            HiGHS presolve; the model's measured default when ``None``.
        verbose : bool
            Print the HiGHS log.

        Returns
        -------
        SitingResult

        Raises
        ------
        SolverError
            When the model is infeasible or no solution is found in the time limit.
        """
        if method not in METHODS:
            raise InputError(f"unknown solve method '{method}'; use one of {', '.join(METHODS)}")
        if not time_limit or time_limit <= 0:
            raise InputError(f"time_limit must be positive seconds, got {time_limit}")
        if not (0 <= mip_gap < 1):
            raise InputError(f"mip_gap must be in [0, 1), got {mip_gap}")
        presolve = self.default_presolve if presolve is None else presolve
        t0 = time.perf_counter()
        deadline = t0 + time_limit
        self._precheck()
        heur = None
        # iterated-local-search patience: long when the heuristic is the answer, short when
        # it only seeds the MILP
        self._kicks = self._kicks_heuristic if method == "heuristic" else self._kicks_auto
        if method in ("heuristic", "auto"):
            share = 1.0 if method == "heuristic" else _AUTO_HEURISTIC_SHARE
            heur = self._heuristic(t0 + share * time_limit)
        if method == "heuristic":
            if heur is None:
                raise SolverError(self._no_solution_message())
            left = max(deadline - time.perf_counter(), 0.5)
            heur.bound = self._relaxation_bound(left)
            heur.status = "heuristic"
            return self._result(heur, time.perf_counter() - t0)
        left = max(deadline - time.perf_counter(), 0.05)
        exact = self._exact(left, mip_gap, presolve, heur, verbose)
        best = exact
        if heur is not None and (exact is None or self._better(heur.objective, exact.objective)):
            # the heuristic solution is better than HiGHS' incumbent: keep it with HiGHS' bound
            bound = exact.bound if exact is not None else float("nan")
            status = exact.status if exact is not None else "time_limit"
            best = Candidate(heur.selected, heur.objective, bound, status,
                             f"{heur.solver} / {HIGHS_NAME}")
        if best is None:
            raise SolverError(self._no_solution_message())
        return self._result(best, time.perf_counter() - t0)

    # ---------------------------------------------------------------- hooks
    def _precheck(self) -> None:  # pragma: no cover - overridden where needed
        return None

    def _better(self, a: float, b: float) -> bool:
        if b is None or not np.isfinite(b):
            return np.isfinite(a)
        tol = 1e-9 * max(1.0, abs(b))
        return a > b + tol if self.sense == "max" else a < b - tol

    def _no_solution_message(self) -> str:
        return f"{type(self).__name__}: no feasible solution found within the time limit"

    def _relaxation_bound(self, time_limit):
        milp = self._milp()[0]
        out = milp.solve(time_limit, presolve="off", relax=True)
        return out.bound if out.status == "optimal" else float("nan")

    # helpers for subclasses
    @staticmethod
    def _outcome_to_candidate(out, selected, objective) -> Candidate:
        status = "optimal" if out.status == "optimal" else "time_limit"
        return Candidate(selected, objective, out.bound, status, HIGHS_NAME)

    def _pack(self, cand: Candidate, seconds: float, **fields) -> SitingResult:
        gap = relative_gap(cand.objective, cand.bound)
        ids = None
        if getattr(self, "candidate_ids", None) is not None:
            ids = np.asarray(self.candidate_ids)[np.sort(np.asarray(cand.selected, np.int64))]
        return SitingResult(selected=cand.selected, objective=float(cand.objective),
                            bound=float(cand.bound), status=cand.status, solver=cand.solver,
                            seconds=seconds, sense=self.sense, gap=gap, selected_ids=ids, **fields)


# --------------------------------------------------------------------- MILP helpers
def solve_started(milp: MilpModel, x: np.ndarray, start: Candidate | None, time_limit, mip_gap,
                   presolve, verbose, infeasible: str, options: dict | None = None):
    """Solve ``milp`` with ``start`` (its selected positions of the columns ``x``) as MIP start.

    Returns ``(outcome, selected)``: the positions with ``x > 0.5``, ``None`` when HiGHS has
    no solution. Raises :class:`SolverError` with ``infeasible`` when the model is infeasible.
    """
    st = None
    if start is not None:
        vals = np.zeros(len(x))
        vals[start.selected] = 1.0
        st = (x, vals)
    out = milp.solve(time_limit, mip_gap, presolve, start=st, verbose=verbose,
                     options=options if st is not None else None)
    if out.status == "infeasible":
        raise SolverError(infeasible)
    if out.x is None:
        return out, None
    return out, np.flatnonzero(out.x[x] > 0.5)


def started_candidate(milp: MilpModel, x: np.ndarray, start: Candidate | None, time_limit, mip_gap,
                       presolve, verbose, infeasible: str, objective, options: dict | None = None):
    """:func:`solve_started`, then the :class:`Candidate` of the selection with value
    ``objective(selected)`` (``None`` when HiGHS has no solution)."""
    out, sel = solve_started(milp, x, start, time_limit, mip_gap, presolve, verbose, infeasible, options)
    if sel is None:
        return None
    return SitingModel._outcome_to_candidate(out, sel, objective(sel))


def count_budget_rows(milp: MilpModel, x: np.ndarray, p, budget, cost) -> None:
    """``sum x = p`` (``<= p`` when a budget is also given) and ``sum cost x <= budget``."""
    m = len(x)
    if p is not None:
        lo = p if budget is None else -np.inf
        milp.add_rows(np.zeros(m), x, 1.0, 1, lower=lo, upper=p)
    if budget is not None:
        milp.add_rows(np.zeros(m), x, cost, 1, upper=budget)


# --------------------------------------------------------------------- GeoDataFrame inputs
_TYPES = {"candidate": 0, "required": 1, "chosen": 1, "competitor": 2}


def gdf_inputs(demand, facilities, cost, weights_col=None, facility_type_col=None,
               demand_id_col=None, facility_id_col=None):
    """Resolve ``from_geodataframe`` arguments into arrays.

    Parameters
    ----------
    demand, facilities : GeoDataFrame
    cost : array-like or callable
        Travel-minute matrix (len(demand) x len(facilities)) or a callable
        ``cost(demand, facilities) -> matrix`` (e.g. a routing wrapper).
    weights_col : str, optional
        Demand weight column; ones when ``None``.
    facility_type_col : str, optional
        ArcGIS-style facility type per row: ``candidate``, ``required`` (or ``chosen``) or
        ``competitor`` (case-insensitive).
    demand_id_col, facility_id_col : str, optional
        Id columns (``site_id`` when present, else the index).

    Returns
    -------
    dict with ``cost``, ``weights``, ``required``, ``competitor``, ``demand_ids``,
    ``candidate_ids``.
    """
    matrix = cost(demand, facilities) if callable(cost) else cost
    matrix = as_cost_matrix(matrix)
    if matrix.shape != (len(demand), len(facilities)):
        raise InputError(f"cost matrix shape {matrix.shape} does not match {len(demand)} demand "
                         f"points x {len(facilities)} facilities")
    weights = None
    if weights_col is not None:
        if weights_col not in demand.columns:
            raise InputError(f"demand has no weight column '{weights_col}'", column=weights_col)
        weights = demand[weights_col].to_numpy(dtype=float)

    def _ids(df, col):
        if col is not None:
            if col not in df.columns:
                raise InputError(f"no id column '{col}'", column=col)
            return df[col].to_numpy()
        if "site_id" in df.columns:
            return df["site_id"].to_numpy()
        return df.index.to_numpy()

    required = competitor = None
    if facility_type_col is not None:
        if facility_type_col not in facilities.columns:
            raise InputError(f"facilities have no column '{facility_type_col}'", column=facility_type_col)
        kinds = facilities[facility_type_col].astype(str).str.strip().str.lower()
        bad = ~kinds.isin(list(_TYPES))
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"unknown facility type '{kinds.iloc[first]}' (use candidate, required "
                             "or competitor)", row=first + 2, column=facility_type_col)
        code = kinds.map(_TYPES).to_numpy()
        required = code == 1
        competitor = code == 2
    return dict(cost=matrix, weights=weights, required=required, competitor=competitor,
                demand_ids=_ids(demand, demand_id_col), candidate_ids=_ids(facilities, facility_id_col))


def coverage_block(milp: MilpModel, F: sp.spmatrix, xcols: np.ndarray, row_weight: np.ndarray,
                   row_group: np.ndarray | None = None):
    """Add the (multi-level) maximal-coverage block for value matrix ``F`` to ``milp``.

    For demand row ``i`` with distinct positive values
    :math:`v_i^1 > v_i^2 > \\dots > v_i^{K_i}` (and :math:`v_i^{K_i+1} = 0`), level variables
    :math:`u_i^k \\in [0, 1]` and the chain constraints

    .. math::
        u_i^1 \\le \\sum_{j: F_{ij} = v_i^1} x_j, \\qquad
        u_i^k \\le u_i^{k-1} + \\sum_{j: F_{ij} = v_i^k} x_j \\quad (k \\ge 2)

    make :math:`\\sum_k (v_i^k - v_i^{k+1}) u_i^k = \\max_{j \\text{ open}} F_{ij}` at an
    optimum (for a single level this is the classic MCLP row
    :math:`y_i \\le \\sum_{j \\in N_i} x_j`). Each non-zero of ``F`` appears once.

    Returns ``(ucols, coef, level_row)``: the level columns, their value coefficient (to be
    multiplied by the row weight) and the demand row of each level. The objective
    coefficient ``row_weight[i] * coef`` is set here.
    """
    F = sp.coo_matrix(F)
    r, c, v = F.row.astype(np.int64), F.col.astype(np.int64), F.data.astype(float)
    keep = v > 0
    r, c, v = r[keep], c[keep], v[keep]
    if r.size == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    order = np.lexsort((-v, r))
    r, c, v = r[order], c[order], v[order]
    new_level = np.ones(r.size, bool)
    new_level[1:] = (r[1:] != r[:-1]) | (v[1:] != v[:-1])
    level = np.cumsum(new_level) - 1  # level id per entry
    L = int(level[-1]) + 1
    lev_first = np.flatnonzero(new_level)
    lev_row = r[lev_first]
    lev_val = v[lev_first]
    nxt = np.zeros(L)
    same_next = np.zeros(L, bool)
    same_next[:-1] = lev_row[1:] == lev_row[:-1]
    nxt[:-1] = np.where(same_next[:-1], lev_val[1:], 0.0)
    coef = lev_val - nxt
    ucols = milp.add_vars(L, cost=row_weight[lev_row] * coef, lb=0.0, ub=1.0)
    has_prev = np.zeros(L, bool)
    has_prev[1:] = same_next[:-1]
    lv = np.arange(L)
    rows = np.concatenate([level, lv, lv[has_prev]])
    cols = np.concatenate([xcols[c], ucols, ucols[lv[has_prev] - 1]])
    vals = np.concatenate([-np.ones(r.size), np.ones(L), -np.ones(int(has_prev.sum()))])
    milp.add_rows(rows, cols, vals, L, upper=0.0)
    return ucols, coef, lev_row


def merge_rows(F: sp.spmatrix, w: np.ndarray, seed: int = 12345):
    """Drop empty / zero-weight rows of ``F`` and merge identical rows (weights added).

    Returns ``(F', w', rep)`` with ``rep`` the original index of each kept row. Identical rows
    are found by hashing with two random projections and then verified exactly.
    """
    R = sp.csr_matrix(F)
    rnnz = np.diff(R.indptr)
    rows = np.flatnonzero((rnnz > 0) & (w > 0))
    R = R[rows]
    wr = np.asarray(w, float)[rows]
    if R.shape[0] <= 1:
        return R, wr, rows
    rng = np.random.default_rng(seed)
    c1, c2 = rng.random(R.shape[1]), rng.random(R.shape[1])
    h = np.round(R @ c1, 12) + 1j * np.round(R @ c2, 12)
    uniq, inv = np.unique(h, return_inverse=True)
    rep = np.zeros(uniq.size, np.int64)
    rep[inv[::-1]] = np.arange(inv.size)[::-1]  # first row of each hash group
    same = np.asarray(abs(R - R[rep[inv]]).sum(axis=1)).ravel() == 0
    grp = np.where(same, inv, uniq.size + np.arange(inv.size))
    _, grp = np.unique(grp, return_inverse=True)
    ng = int(grp.max()) + 1
    wg = np.bincount(grp, weights=wr, minlength=ng)
    first = np.zeros(ng, np.int64)
    first[grp[::-1]] = np.arange(grp.size)[::-1]
    return R[first].tocsr(), wg, rows[first]
