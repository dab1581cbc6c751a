"""Thin MILP layer over :mod:`highspy`: sparse model assembly and one solve call.

Models add blocks of columns and rows; the constraint matrix is assembled once with
:mod:`scipy.sparse` and handed to HiGHS through ``passModel`` (row-wise CSR), so no Python
object is created per coefficient.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

__all__ = ["MilpModel", "MilpOutcome", "LpRelaxation", "HIGHS_NAME", "new_highs"]

_INF = highspy.kHighsInf


def new_highs(verbose: bool = False) -> highspy.Highs:
    """A HiGHS instance with ``output_flag`` set: silent unless ``verbose``.

    HiGHS 1.16 prints its banner ("Running HiGHS ... Copyright ...") from the C++ constructor of
    the first instance in a process, before any option can be set. When not ``verbose``, the
    process's C-level standard output (file descriptor 1) is pointed at a pipe, then discarded,
    while the instance is built (C buffers flushed before it is restored), so ``planner run
    --quiet`` prints nothing. Output of other threads during those microseconds is lost too.

    Parameters
    ----------
    verbose : bool
        Keep the banner and print the solver log.

    Returns
    -------
    highspy.Highs
    """
    if verbose:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        read_end, write_end = os.pipe()  # the banner (~170 bytes) fits the pipe's buffer
        try:
            os.dup2(write_end, 1)
            try:
                h = highspy.Highs()
            finally:
                _flush_c_stdio()
                os.dup2(saved, 1)
        finally:
            for fd in (saved, write_end, read_end):
                os.close(fd)
    h.setOptionValue("output_flag", bool(verbose))
    return h


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: write out C stdio buffers (no-op where libc cannot be loaded)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)

def _highs_name() -> str:
    try:
        from importlib.metadata import version

        return "highs " + version("highspy")
    except Exception:  # pragma: no cover - metadata missing
        return "highs"


#: Solver label written into results.
HIGHS_NAME = _highs_name()

# Presolve defaults live on the model classes (``default_presolve``), measured:
# * covering models (MCLP/LSCP/flow/mix): "off". On a 200 x 2,000 MCLP HiGHS spent ~80 % of
#   the run in presolve (0.89 s with presolve vs 0.19 s without); these LP-tight models gain
#   nothing from it, and MIP starts are only used without presolve (see ``solve``).
# * p-median / p-center: "on". The objective cutoff (``objective_bound``) only prunes with
#   presolve on, and the Lagrangian-reduced p-median masters shrink further.


@dataclass
class MilpOutcome:
    """What one HiGHS run produced (objective in the model's own sense)."""

    status: str  # optimal | time_limit | infeasible | no_solution | error
    x: np.ndarray | None
    objective: float
    bound: float
    seconds: float
    nodes: int = 0
    raw_status: str = ""
    info: dict = field(default_factory=dict)


class MilpModel:
    """Incrementally built mixed-integer linear model.

    Parameters
    ----------
    sense : {"max", "min"}
        Objective sense.
    """

    def __init__(self, sense: str):
        if sense not in ("max", "min"):
            raise ValueError(sense)
        self.sense = sense
        self.n_cols = 0
        self.n_rows = 0
        self._cost: list[np.ndarray] = []
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._r: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self.offset = 0.0

    # -- columns -------------------------------------------------------------------------
    def add_vars(self, n: int, cost=0.0, lb=0.0, ub=1.0, integer: bool = False) -> np.ndarray:
        """Add ``n`` columns; return their global indices."""
        n = int(n)
        idx = np.arange(self.n_cols, self.n_cols + n)
        self._cost.append(np.broadcast_to(np.asarray(cost, float), (n,)).copy())
        self._lb.append(np.broadcast_to(np.asarray(lb, float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, float), (n,)).copy())
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        self.n_cols += n
        return idx

    def fix(self, cols, value) -> None:
        """Fix columns (global indices) to ``value``."""
        cols = np.asarray(cols, dtype=np.int64)
        if cols.size == 0:
            return
        lb, ub = self._bounds_view()
        lb[cols] = value
        ub[cols] = value

    def _bounds_view(self):
        # consolidate the bound lists so that fix() can write into them
        if len(self._lb) != 1:
            self._lb = [np.concatenate(self._lb) if self._lb else np.zeros(0)]
            self._ub = [np.concatenate(self._ub) if self._ub else np.zeros(0)]
        return self._lb[0], self._ub[0]

    # -- rows ----------------------------------------------------------------------------
    def add_rows(self, rows, cols, vals, n_rows: int, lower=-np.inf, upper=np.inf) -> np.ndarray:
        """Add ``n_rows`` rows given as COO triplets with row numbers local to the block."""
        n_rows = int(n_rows)
        rows = np.asarray(rows, dtype=np.int64)
        self._r.append(rows + self.n_rows)
        self._c.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.broadcast_to(np.asarray(vals, float), rows.shape).copy())
        self._rlo.append(np.broadcast_to(np.asarray(lower, float), (n_rows,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(upper, float), (n_rows,)).copy())
        idx = np.arange(self.n_rows, self.n_rows + n_rows)
        self.n_rows += n_rows
        return idx

    def add_matrix_rows(self, A, cols, lower=-np.inf, upper=np.inf) -> np.ndarray:
        """Add rows ``lower <= A @ v[cols] <= upper`` for a sparse block ``A``."""
        A = sp.coo_matrix(A)
        cols = np.asarray(cols, dtype=np.int64)
        return self.add_rows(A.row, cols[A.col], A.data, A.shape[0], lower, upper)

    # -- solve ---------------------------------------------------------------------------
    def arrays(self):
        cost = np.concatenate(self._cost) if self._cost else np.zeros(0)
        lb, ub = self._bounds_view()
        integ = np.concatenate(self._int) if self._int else np.zeros(0, np.int32)
        if self._r:
            r = np.concatenate(self._r)
            c = np.concatenate(self._c)
            v = np.concatenate(self._v)
        else:
            r = c = np.zeros(0, np.int64)
            v = np.zeros(0)
        A = sp.csr_matrix((v, (r, c)), shape=(self.n_rows, self.n_cols))
        A.sum_duplicates()
        A.eliminate_zeros()
        rlo = np.concatenate(self._rlo) if self._rlo else np.zeros(0)
        rhi = np.concatenate(self._rhi) if self._rhi else np.zeros(0)
        return cost, lb.copy(), ub.copy(), integ, A, rlo, rhi

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-4, presolve: str | bool = "off",
              start: np.ndarray | None = None, relax: bool = False, verbose: bool = False,
              objective_integral: bool | None = None, cutoff: float | None = None,
              options: dict | None = None) -> MilpOutcome:
        """Solve with HiGHS.

        Parameters
        ----------
        time_limit : float
            Seconds (wall) for HiGHS.
        mip_gap : float
            Relative MIP gap at which HiGHS stops.
        presolve : {"on", "off", "choose"} or bool
        start : (cols, values), optional
            Values of (some of) the integer columns of a feasible solution, used as MIP start;
            HiGHS completes the continuous part by an LP.
        relax : bool
            Solve the LP relaxation instead (``bound`` = LP optimum; the row duals, in HiGHS'
            sign convention, are in ``info["row_dual"]``).
        objective_integral : bool, optional
            Declare the objective integer-valued so that an absolute gap below one proves
            optimality; detected from the cost vector when ``None``.
        cutoff : float, optional
            Only solutions better than this objective value are of interest (HiGHS
            ``objective_bound``, which HiGHS applies with presolve on); "infeasible" then
            means "nothing better than the cutoff".
        """
        t0 = time.perf_counter()
        cost, lb, ub, integ, A, rlo, rhi = self.arrays()
        if relax:
            integ = np.zeros_like(integ)
        h = new_highs(verbose)
        if objective_integral is None:
            objective_integral = bool(np.all(cost[integ == 0] == 0) and np.all(cost == np.round(cost)))
        presolve = _presolve_value(presolve)
        _set_options(h, time_limit, presolve, mip_gap, objective_integral and not relax,
                     None if relax else cutoff, options)
        st = _pass_model(h, self, cost, lb, ub, integ, A, rlo, rhi)
        if st == highspy.HighsStatus.kError:
            return MilpOutcome("error", None, np.nan, np.nan, time.perf_counter() - t0,
                               raw_status="passModel error")
        has_int = bool(np.any(integ))
        if start is not None and presolve != "off":
            # HiGHS 1.16 mis-evaluates a MIP start in the presolved space (objective off by
            # a constant), which can prune wrongly: only use starts without presolve
            start = None
        if start is not None and has_int:
            cols, vals = start
            cols = np.asarray(cols, dtype=np.int32)
            h.setSolution(int(cols.size), cols, np.asarray(vals, dtype=float))
        h.run()
        return _outcome(h, has_int, relax, t0)


def _presolve_value(presolve: str | bool) -> str:
    """HiGHS' ``presolve`` option value ("on" / "off" / "choose") of a bool or string."""
    if isinstance(presolve, bool):
        return "on" if presolve else "off"
    return str(presolve)


def _set_options(h: highspy.Highs, time_limit: float, presolve: str, mip_gap: float, objective_integral: bool,
                 cutoff: float | None, options: dict | None) -> None:
    """The options every solve sets: time limit, presolve, gaps, one thread, extra options, cutoff."""
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    h.setOptionValue("presolve", presolve)
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("threads", 1)
    if objective_integral:
        h.setOptionValue("mip_abs_gap", 1.0 - 1e-6)
    for key, val in (options or {}).items():
        h.setOptionValue(key, val)
    if cutoff is not None:
        h.setOptionValue("objective_bound", float(cutoff))


def _pass_model(h: highspy.Highs, model: MilpModel, cost: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                integ: np.ndarray, A: sp.csr_matrix, rlo: np.ndarray, rhi: np.ndarray) -> highspy.HighsStatus:
    """Hand the arrays of ``model`` to HiGHS (infinite bounds as HiGHS' infinity)."""
    sense = highspy.ObjSense.kMaximize if model.sense == "max" else highspy.ObjSense.kMinimize
    return h.passModel(model.n_cols, model.n_rows, int(A.nnz), 2, int(sense), float(model.offset),
                       cost, _highs_inf(lb), _highs_inf(ub), _highs_inf(rlo), _highs_inf(rhi),
                       A.indptr.astype(np.int32), A.indices.astype(np.int32), A.data.astype(float),
                       integ.astype(np.int32))


def _highs_inf(v: np.ndarray) -> np.ndarray:
    """``±inf`` replaced by HiGHS' infinity."""
    return np.where(np.isposinf(v), _INF, np.where(np.isneginf(v), -_INF, v))


def _outcome(h: highspy.Highs, has_int: bool, want_duals: bool, t0: float) -> MilpOutcome:
    """The :class:`MilpOutcome` of the last ``h.run()``."""
    ms = h.getModelStatus()
    info = h.getInfo()
    raw = h.modelStatusToString(ms)
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, float) if has_x else None
    obj = float(info.objective_function_value) if has_x else np.nan
    bound = float(info.mip_dual_bound) if has_int else obj
    nodes = int(info.mip_node_count) if has_int else 0
    M = highspy.HighsModelStatus
    if ms == M.kOptimal:
        status = "optimal"
    elif ms in (M.kInfeasible, M.kUnboundedOrInfeasible):
        status = "infeasible"
    elif ms in (M.kTimeLimit, M.kIterationLimit, M.kSolutionLimit, M.kInterrupt,
                M.kObjectiveBound, M.kObjectiveTarget, M.kUnknown):
        status = "time_limit" if has_x else "no_solution"
    else:
        status = "error"
    if not np.isfinite(bound) or abs(bound) >= _INF:
        bound = np.nan
    extra = {}
    if want_duals and status == "optimal" and info.dual_solution_status == 2:  # kSolutionStatusFeasible
        extra["row_dual"] = np.asarray(h.getSolution().row_dual, float)
    return MilpOutcome(status, x, obj, bound, time.perf_counter() - t0, nodes, raw, extra)


class LpRelaxation:
    """The LP relaxation of a :class:`MilpModel`, kept in one HiGHS instance so that it is
    re-solved from the last basis after a row's bounds change (a parametric LP) or rows are
    added (cutting planes); :meth:`solve_integer` then solves the same instance as a MILP.

    Parameters
    ----------
    model : MilpModel
        The model (read once; later changes to it are not seen: add rows here instead).
    verbose : bool
        Print the HiGHS log.
    """

    def __init__(self, model: MilpModel, verbose: bool = False):
        cost, lb, ub, _, A, rlo, rhi = model.arrays()
        self.h = new_highs(verbose)
        self.h.setOptionValue("presolve", "off")
        self.h.setOptionValue("threads", 1)
        # every column continuous
        _pass_model(self.h, model, cost, lb, ub, np.zeros(model.n_cols, np.int32), A, rlo, rhi)
        self.n_cols = model.n_cols
        self.rlo = list(rlo)

    @property
    def n_rows(self) -> int:
        """Rows in the model, added ones included."""
        return len(self.rlo)

    def add_rows(self, A: sp.spmatrix, lower: float | np.ndarray = -np.inf,
                 upper: float | np.ndarray = np.inf) -> np.ndarray:
        """Append rows ``lower <= A @ v <= upper`` (``A`` over all columns); return their indices.

        Parameters
        ----------
        A : sparse matrix (n_new_rows, n_cols)
        lower, upper : float or array (n_new_rows,)

        Returns
        -------
        ndarray of int
            Global indices of the new rows.
        """
        A = sp.csr_matrix(A)
        k = A.shape[0]
        lo = np.broadcast_to(np.asarray(lower, float), (k,))
        hi = np.broadcast_to(np.asarray(upper, float), (k,))
        idx = np.arange(self.n_rows, self.n_rows + k)
        if k:
            self.h.addRows(k, _highs_inf(lo), _highs_inf(hi), int(A.nnz), A.indptr[:-1].astype(np.int32),
                           A.indices.astype(np.int32), A.data.astype(float))
            self.rlo.extend(lo)
        return idx

    def set_upper(self, row: int, upper: float) -> None:
        """Set the upper bound of ``row`` (its lower bound kept)."""
        lo = self.rlo[row]
        self.h.changeRowBounds(int(row), float(-_INF if np.isinf(lo) else lo), float(upper))

    def last_solution(self) -> np.ndarray | None:
        """Column values of the last solve, or ``None`` when it found no feasible point."""
        sol = self.h.getSolution()
        if self.h.getInfo().primal_solution_status != 2 or len(sol.col_value) != self.n_cols:
            return None
        return np.asarray(sol.col_value, float)

    def solve(self, time_limit: float, row: int | None = None, upper: float | None = None) -> MilpOutcome:
        """Solve the LP, first setting the upper bound of ``row`` to ``upper`` when given.

        ``bound`` is the LP optimum (``status == "optimal"``) and ``info["row_dual"]`` its row
        duals (HiGHS' sign convention).
        """
        t0 = time.perf_counter()
        if row is not None and upper is not None:
            self.set_upper(row, upper)
        self.h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
        self.h.run()
        info = self.h.getInfo()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal or info.dual_solution_status != 2:
            return MilpOutcome("time_limit", None, np.nan, np.nan, time.perf_counter() - t0)
        sol = self.h.getSolution()
        obj = float(info.objective_function_value)
        return MilpOutcome("optimal", np.asarray(sol.col_value, float), obj, obj, time.perf_counter() - t0,
                           info={"row_dual": np.asarray(sol.row_dual, float)})

    def solve_integer(self, integer_cols: np.ndarray, time_limit: float, mip_gap: float = 1e-4,
                      presolve: str | bool = "on", objective_integral: bool = False, cutoff: float | None = None,
                      options: dict | None = None) -> MilpOutcome:
        """Solve as a MILP with ``integer_cols`` integer (they stay integer afterwards).

        Parameters
        ----------
        integer_cols : array of int
            Columns made integer (bounds unchanged).
        time_limit, mip_gap, presolve, objective_integral, cutoff, options
            As in :meth:`MilpModel.solve`.

        Returns
        -------
        MilpOutcome
            ``bound`` is HiGHS' MIP dual bound (NaN when none).
        """
        t0 = time.perf_counter()
        h = self.h
        presolve = _presolve_value(presolve)
        if presolve != "off":
            # drop the last solution: HiGHS 1.16 would take it as a MIP start, and a start
            # combined with presolve is mis-evaluated in the presolved space (see MilpModel.solve)
            h.clearSolver()
        cols = np.asarray(integer_cols, dtype=np.int32)
        h.changeColsIntegrality(int(cols.size), cols, np.ones(cols.size, np.int32))
        _set_options(h, time_limit, presolve, mip_gap, objective_integral, cutoff, options)
        h.run()
        return _outcome(h, True, False, t0)
