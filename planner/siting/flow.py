"""Flow-based models: flow capturing (Hodgson 1990) and flow refuelling (Kuby & Lim 2005).

The caller builds the flow data from routing: for flow capturing a flow x candidate matrix of
detour minutes (0 on the path, ``inf`` when the candidate cannot serve the flow); for flow
refuelling either the path of each flow as a node sequence with arc lengths (the model builds
the path-segment constraints for a vehicle range) or, per flow, the station combinations that
make the round trip feasible.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError

from ._base import Candidate, SitingModel, count_budget_rows, started_candidate
from ._milp import MilpModel
from ._validate import as_candidate_values, as_cost_matrix, as_index_set, as_weights
from .coverage import CoverageModelBase
from .decay import Decay, coverage_values

__all__ = ["FlowCapture", "FRLM"]


class FlowCapture(CoverageModelBase):
    r"""Flow-capturing location model (Hodgson 1990): maximise the volume of flows that pass
    (or detour at most ``max_detour`` minutes to) an open facility.

    .. math::
        \max \sum_q v_q y_q \quad \text{s.t.} \quad y_q \le \sum_{j \in N_q} x_j, \quad
        \sum_j x_j = p \text{ and/or } \sum_j c_j x_j \le B, \quad x_R = 1, \quad
        y_q \in [0, 1]

    with :math:`N_q` the candidates that can serve flow :math:`q` (on its path or within the
    allowed detour). A decay function on the detour turns "captured" into a share.

    Parameters
    ----------
    detour : array (n_flows, n_candidates) or sparse
        Detour minutes (0 = on the path, ``inf`` = cannot serve). A sparse matrix is read as
        the boolean "can serve" matrix.
    volumes : array (n_flows,)
    max_detour : float
        Largest acceptable detour in minutes (ignored for a boolean matrix).
    p, budget, candidate_cost, required, decay : see :class:`~planner.siting.MCLP`.
    flow_ids, candidate_ids : array, optional
    """

    _label = "flows"

    def __init__(self, detour, volumes, max_detour: float = 0.0, p=None, budget=None,
                 candidate_cost=None, required=None, decay: Decay | None = None, flow_ids=None,
                 candidate_ids=None):
        if sp.issparse(detour):
            A = sp.csr_matrix(detour)
            F = sp.csr_matrix((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
            F.data[A.data == 0] = 0  # explicit zeros mean "cannot serve"
            F.eliminate_zeros()
            self.cost = None
        else:
            self.cost = as_cost_matrix(detour, "detour matrix")
            md = float(max_detour)
            if not np.isfinite(md) or md < 0:
                raise InputError(f"max_detour must be non-negative minutes, got {max_detour}")
            # radius 0 with a step decay still accepts on-path candidates (detour 0)
            F = coverage_values(self.cost, md if md > 0 else 1e-12, decay)
        n, m = F.shape
        self.weights_raw = as_weights(volumes, n, "flow volumes")
        self.weights = self.weights_raw.copy()
        self.decay = decay
        self._setup_selection(m, p, budget, candidate_cost, required, np.zeros(0, np.int64))
        self.F = F.tocsr()
        self.demand_ids = flow_ids
        self.candidate_ids = candidate_ids

    @classmethod
    def from_cost_matrix(cls, cost_matrix, weights=None, max_detour=0.0, p=None, **kwargs):
        """``cost_matrix`` = detour minutes (flows x candidates), ``weights`` = volumes."""
        return cls(cost_matrix, weights, max_detour, p=p, **kwargs)

    @classmethod
    def from_flows(cls, volumes, serves, p=None, **kwargs):
        """From volumes and a sparse / boolean flow x candidate "can serve" matrix."""
        serves = sp.csr_matrix(np.asarray(serves) if not sp.issparse(serves) else serves)
        return cls(serves.astype(bool).astype(float), volumes, p=p, **kwargs)

    def _result(self, cand, seconds):
        res = super()._result(cand, seconds)
        res.details["captured_volume"] = res.details.pop("covered_weight")
        res.details["total_volume"] = res.details.pop("total_weight")
        return res


# ------------------------------------------------------------------------------ FRLM
def _path_segment_rows(path_cols, cum, vrange):
    """Path-segment (arc-cover) rows of one flow's round trip.

    ``path_cols``: candidate column at each path position (-1 when not a candidate);
    ``cum``: cumulative distance at each position. Vehicles leave the origin with half a tank
    (Kuby & Lim 2005), refuel to full at open stations, and must complete O -> D -> O:

    * every outbound arc ending farther than R/2 from the origin needs an open station at or
      before its tail within R of its head;
    * some open station must lie within R/2 of the destination (turnaround).

    Together these are equivalent to: first station within R/2 of O, consecutive stations at
    most R apart, last station within R/2 of D. Returns a list of column arrays (one per
    row); an empty array means the flow cannot be refuelled.
    """
    rows = []
    pos = np.flatnonzero(path_cols >= 0)
    L = cum.size - 1
    seen = set()
    for l in range(L):
        head = cum[l + 1]
        if head <= vrange / 2 + 1e-12:
            continue
        ok = pos[(pos <= l) & (head - cum[pos] <= vrange + 1e-12)]
        key = tuple(np.unique(path_cols[ok]))
        if key not in seen:
            seen.add(key)
            rows.append(np.array(key, np.int64))
    tail = pos[cum[L] - cum[pos] <= vrange / 2 + 1e-12]
    key = tuple(np.unique(path_cols[tail]))
    if key not in seen:
        rows.append(np.array(key, np.int64))
    return rows


class FRLM(SitingModel):
    r"""Flow-refuelling location model (Kuby & Lim 2005): maximise the volume of round trips
    that can be completed with the open stations and a vehicle range :math:`R`.

    **Path-segment form** (``from_paths``; Capar & Kuby 2012 style arc cover): for flow
    :math:`q`, each row :math:`a \in A_q` lists the stations :math:`K_q^a` one of which must
    be open (see :func:`_path_segment_rows`):

    .. math::
        \max \sum_q v_q y_q \quad \text{s.t.} \quad
        y_q \le \sum_{k \in K_q^a} x_k \;\; \forall q, a \in A_q, \quad
        \sum_k x_k = p \text{ and/or } \sum_k c_k x_k \le B, \quad x_R = 1

    **Combination form** (``from_combinations``; original FRLM): :math:`H_q` lists the
    station sets that each make trip :math:`q` feasible:

    .. math::
        \max \sum_q v_q y_q \quad \text{s.t.} \quad
        y_q \le \sum_{h \in H_q} u_h, \quad u_h \le x_k \;\; \forall k \in h, \quad
        u_h, y_q \in [0, 1]

    Parameters
    ----------
    volumes : array (n_flows,)
    n_candidates : int
    segments : (sparse rows x candidates, row_flow), optional
    combinations : (sparse combos x candidates, combo_flow), optional
    p, budget, candidate_cost, required : see :class:`~planner.siting.MCLP`.
    flow_ids, candidate_ids : array, optional
    """

    sense = "max"
    default_presolve = "off"

    def __init__(self, volumes, n_candidates: int, segments=None, combinations=None, p=None,
                 budget=None, candidate_cost=None, required=None, flow_ids=None,
                 candidate_ids=None):
        if (segments is None) == (combinations is None):
            raise InputError("FRLM needs either path segments or station combinations")
        self.m = int(n_candidates)
        self.mode = "segments" if segments is not None else "combinations"
        M, owner = segments if segments is not None else combinations
        self.M = sp.csr_matrix(M, dtype=float)
        self.M.data[:] = 1.0
        self.owner = np.asarray(owner, np.int64)
        self.v = as_weights(volumes, len(volumes), "flow volumes")
        self.nf = self.v.size
        self.fixed = as_index_set(required, self.m, "required stations")
        self.allowed = np.ones(self.m, bool)
        self.allowed[self.fixed] = False
        if p is None and budget is None:
            raise InputError("give the number of stations p or a budget")
        self.p = None if p is None else int(p)
        if self.p is not None and self.p < self.fixed.size:
            raise InputError(f"p = {self.p} is smaller than the {self.fixed.size} required stations")
        if self.p is not None and self.p > self.m:
            raise InputError(f"p = {self.p} but there are only {self.m} candidate stations")
        self.budget = None if budget is None else float(budget)
        self.ccost = as_candidate_values(candidate_cost, self.m, "station costs", default=1.0)
        self.ccost_eff = self.ccost.copy()
        self.ccost_eff[self.fixed] = 0.0
        self.flow_ids = flow_ids
        self.candidate_ids = candidate_ids
        # flows with an empty segment row (or no combination) can never be refuelled
        if self.mode == "segments":
            empty = np.diff(self.M.indptr) == 0
            self.impossible = np.bincount(self.owner[empty], minlength=self.nf) > 0
        else:
            self.impossible = np.bincount(self.owner, minlength=self.nf) == 0

    # ---- constructors ------------------------------------------------------------
    @classmethod
    def from_paths(cls, paths, arc_lengths, volumes, vehicle_range: float, p=None,
                   candidates=None, **kwargs) -> FRLM:
        """Build the path-segment model from node sequences.

        Parameters
        ----------
        paths : list of sequences of node ids
            Path of each flow from origin to destination.
        arc_lengths : list of sequences
            Length (km or minutes, same unit as ``vehicle_range``) of each arc of each path.
        volumes : array (n_flows,)
        vehicle_range : float
        candidates : sequence of node ids, optional
            Candidate station nodes (columns); every node on a path when ``None``.
        """
        R = float(vehicle_range)
        if not np.isfinite(R) or R <= 0:
            raise InputError(f"vehicle_range must be positive, got {vehicle_range}")
        if len(paths) != len(arc_lengths) or len(paths) != len(volumes):
            raise InputError("paths, arc_lengths and volumes must have one entry per flow")
        if candidates is None:
            candidates = sorted({n for path in paths for n in path})
        candidates = list(candidates)
        col = {node: k for k, node in enumerate(candidates)}
        rows_c, rows_r, owner = [], [], []
        r = 0
        for q, (path, arcs) in enumerate(zip(paths, arc_lengths)):
            arcs = np.asarray(arcs, float)
            if arcs.size != max(len(path) - 1, 0):
                raise InputError(f"flow {q}: {len(path)} nodes need {len(path) - 1} arc lengths, "
                                 f"got {arcs.size}")
            if np.any(arcs < 0) or not np.all(np.isfinite(arcs)):
                raise InputError(f"flow {q}: arc lengths must be finite and non-negative")
            cum = np.concatenate([[0.0], np.cumsum(arcs)])
            pcols = np.array([col.get(node, -1) for node in path], np.int64)
            for cols in _path_segment_rows(pcols, cum, R):
                rows_c.append(cols)
                rows_r.append(np.full(cols.size, r))
                owner.append(q)
                r += 1
        cc = np.concatenate(rows_c) if rows_c else np.zeros(0, np.int64)
        rr = np.concatenate(rows_r) if rows_r else np.zeros(0, np.int64)
        M = sp.csr_matrix((np.ones(cc.size), (rr, cc)), shape=(r, len(candidates)))
        kwargs.setdefault("candidate_ids", np.asarray(candidates, dtype=object))
        return cls(volumes, len(candidates), segments=(M, owner), p=p, **kwargs)

    @classmethod
    def from_combinations(cls, combinations, volumes, n_candidates: int, p=None, **kwargs) -> FRLM:
        """Build the original FRLM from, per flow, a list of feasible station sets.

        ``combinations[q]`` is an iterable of iterables of candidate positions.
        """
        if len(combinations) != len(volumes):
            raise InputError("combinations and volumes must have one entry per flow")
        rr, cc, owner = [], [], []
        h = 0
        for q, combos in enumerate(combinations):
            for combo in combos:
                cols = np.unique(np.asarray(list(combo), np.int64))
                if cols.size == 0:
                    continue
                if cols.min() < 0 or cols.max() >= n_candidates:
                    raise InputError(f"flow {q}: station positions outside 0..{n_candidates - 1}")
                rr.append(np.full(cols.size, h))
                cc.append(cols)
                owner.append(q)
                h += 1
        col = np.concatenate(cc) if cc else np.zeros(0, np.int64)
        row = np.concatenate(rr) if rr else np.zeros(0, np.int64)
        H = sp.csr_matrix((np.ones(col.size), (row, col)), shape=(h, n_candidates))
        return cls(volumes, n_candidates, combinations=(H, owner), p=p, **kwargs)

    @classmethod
    def from_cost_matrix(cls, *args, **kwargs):  # pragma: no cover - documented redirect
        raise InputError("FRLM is built from paths (FRLM.from_paths) or station combinations "
                         "(FRLM.from_combinations), not from a cost matrix")

    # ---- evaluation ----------------------------------------------------------------
    def refuelled(self, open_mask) -> np.ndarray:
        """Per flow: can the round trip be made with the open stations?"""
        o = np.asarray(open_mask, float)
        if self.mode == "segments":
            sat = (self.M @ o) > 0
            bad = np.bincount(self.owner[~sat], minlength=self.nf)
            return (bad == 0) & ~self.impossible
        missing = self.M @ (1.0 - o)
        ok = np.bincount(self.owner[missing == 0], minlength=self.nf) > 0
        return ok

    def _objective(self, open_mask) -> float:
        return float(self.v @ self.refuelled(open_mask))

    def _gains(self, open_mask) -> np.ndarray:
        """Volume gained by opening each candidate, vectorised over candidates."""
        o = np.asarray(open_mask, float)
        ok = self.refuelled(open_mask)
        if self.mode == "segments":
            unsat = np.flatnonzero((self.M @ o) == 0)
            if unsat.size == 0:
                return np.zeros(self.m)
            f = self.owner[unsat]
            u = np.bincount(f, minlength=self.nf)
            P = sp.csr_matrix((np.ones(unsat.size), (f, np.arange(unsat.size))), shape=(self.nf, unsat.size))
            cnt = (P @ self.M[unsat]).tocoo()
            full = (cnt.data == u[cnt.row]) & ~self.impossible[cnt.row]
            return np.bincount(cnt.col[full], weights=self.v[cnt.row[full]], minlength=self.m)
        missing = self.M @ (1.0 - o)
        one = np.flatnonzero(missing == 1)
        if one.size == 0:
            return np.zeros(self.m)
        f = self.owner[one]
        keep = ~ok[f]
        one, f = one[keep], f[keep]
        Hm = self.M[one].multiply(1.0 - o[None, :]).tocsr()  # the one missing station
        P = sp.csr_matrix((np.ones(one.size), (f, np.arange(one.size))), shape=(self.nf, one.size))
        hit = (P @ Hm).tocoo()
        return np.bincount(hit.col, weights=self.v[hit.row], minlength=self.m)

    def _heuristic(self, deadline):
        is_open = np.zeros(self.m, bool)
        is_open[self.fixed] = True

        def spent(mask):
            return float(self.ccost_eff[mask].sum())

        def can_add(mask):
            ok = self.allowed & ~mask
            if self.budget is not None:
                ok &= spent(mask) + self.ccost_eff <= self.budget + 1e-9
            return ok

        while time.perf_counter() < deadline:
            if self.p is not None and is_open.sum() >= self.p:
                break
            ok = can_add(is_open)
            if not ok.any():
                break
            g = self._gains(is_open)
            if self.budget is not None:
                score = np.where(ok & (g > 0), g / np.maximum(self.ccost_eff, 1e-9), -np.inf)
                if not np.isfinite(score.max()):
                    break
            else:
                score = np.where(ok, g, -np.inf)
                if g[ok].max() <= 0:
                    # nothing single helps: open the station that appears in most unmet rows
                    score = np.where(ok, self._weighted_need(is_open), -np.inf)
            is_open[int(np.argmax(score))] = True
        # swap local search (one removal evaluated at a time, additions vectorised)
        cur = self._objective(is_open)
        improved = True
        while improved and time.perf_counter() < deadline:
            improved = False
            for f in np.flatnonzero(is_open & self.allowed):
                base = is_open.copy()
                base[f] = False
                ok = can_add(base)
                ok[f] = False
                if not ok.any():
                    continue
                val = self._objective(base) + self._gains(base)
                val[~ok] = -np.inf
                j = int(np.argmax(val))
                if val[j] > cur + 1e-9 * max(1.0, cur):
                    base[j] = True
                    is_open, cur, improved = base, float(self._objective(base)), True
                    break
        sel = np.flatnonzero(is_open)
        return Candidate(sel, self._objective(is_open))

    def _weighted_need(self, is_open):
        o = is_open.astype(float)
        if self.mode == "segments":
            unsat = (self.M @ o) == 0
            return self.M[unsat].T @ self.v[self.owner[unsat]]
        return self.M.T @ self.v[self.owner]

    # ---- exact ---------------------------------------------------------------------
    def _milp(self):
        milp = MilpModel("max")
        ub = np.ones(self.m)
        x = milp.add_vars(self.m, 0.0, 0.0, ub, integer=True)
        milp.fix(x[self.fixed], 1.0)
        y = milp.add_vars(self.nf, self.v, 0.0, np.where(self.impossible, 0.0, 1.0))
        M = sp.coo_matrix(self.M)
        nr = self.M.shape[0]
        if self.mode == "segments":
            # y_q - sum_{k in row} x_k <= 0
            milp.add_rows(np.concatenate([np.arange(nr), M.row]),
                          np.concatenate([y[self.owner], x[M.col]]),
                          np.concatenate([np.ones(nr), -np.ones(M.nnz)]), nr, upper=0.0)
        else:
            u = milp.add_vars(nr, 0.0, 0.0, 1.0)
            e = np.arange(M.nnz)
            milp.add_rows(np.concatenate([e, e]), np.concatenate([u[M.row], x[M.col]]),
                          np.concatenate([np.ones(M.nnz), -np.ones(M.nnz)]), M.nnz, upper=0.0)
            milp.add_rows(np.concatenate([np.arange(self.nf), self.owner]),
                          np.concatenate([y, u]),
                          np.concatenate([np.ones(self.nf), -np.ones(nr)]), self.nf, upper=0.0)
        count_budget_rows(milp, x, self.p, self.budget, self.ccost_eff)
        return milp, x

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        milp, x = self._milp()
        return started_candidate(milp, x, start, time_limit, mip_gap, presolve, verbose,
                                  "FRLM: no feasible station set (check p, budget and required stations)",
                                  lambda sel: self._objective(np.isin(np.arange(self.m), sel)))

    def _result(self, cand, seconds):
        mask = np.zeros(self.m, bool)
        mask[np.asarray(cand.selected, np.int64)] = True
        ok = self.refuelled(mask)
        cand.objective = float(self.v @ ok)
        total = float(self.v.sum())
        details = dict(total_volume=total, refuelled_volume=cand.objective,
                       refuelled_share=cand.objective / total if total > 0 else float("nan"),
                       n_impossible=int(self.impossible.sum()), mode=self.mode, p=self.p,
                       budget=self.budget)
        return self._pack(cand, seconds, covered=ok.astype(float), details=details)
