"""Multi-period station mix: a programme of stations opened year by year, nested by construction.

A bureau funds a programme, not one plan: each year has its own budget, demand grows from year
to year, and a station opened stays open. :class:`PhasedMix` chooses, for every period, which
(site, technology) stations exist, maximising the coverage accumulated over the periods. The
single-period model it generalises is :class:`planner.siting.mix.TechnologyMix`; its sets,
eligibility, spacing, co-location and station caps are reused unchanged.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError, SolverError

from ._milp import MilpModel
from .mix import TechnologyMix
from .result import relative_gap

__all__ = ["PhasedMix", "PhasedPlan"]


def _as_budgets(budgets) -> np.ndarray:
    b = np.asarray(budgets, float).reshape(-1)
    if b.size == 0 or not np.all(np.isfinite(b)) or np.any(b < 0):
        raise InputError(f"budgets must be non-negative numbers, one per period, got {list(np.atleast_1d(budgets))}")
    return b


@dataclass
class PhasedPlan:
    """A solved programme.

    Attributes
    ----------
    periods : list
        Period labels (e.g. years), in order.
    open_pairs : bool array (n_periods, n_pairs)
        Station (site, technology) pairs open in each period; rows are nested.
    objective : float
        Accumulated weighted coverage over the periods.
    bound, gap : float
        Solver bound and relative gap (``nan`` for a plan that was evaluated, not solved).
    status : str
        ``optimal``, ``time_limit`` or ``evaluated``.
    by_period : list of dict
        Per period: ``objective`` (weighted coverage in that period), ``spent`` (new capex
        that period), ``covered_share`` per technology, ``stations`` per technology.
    stations : list of dict
        One row per station: ``site`` (position), ``site_id``, ``technology``,
        ``opened`` (period label), ``capex``, ``existing``.
    """

    periods: list
    open_pairs: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    seconds: float
    by_period: list = field(default_factory=list)
    stations: list = field(default_factory=list)

    def is_nested(self) -> bool:
        """Every station open in a period is open in every later period."""
        x = self.open_pairs
        return bool(np.all(x[1:] >= x[:-1])) if len(x) > 1 else True


class PhasedMix:
    r"""Stations opened over several periods under a budget per period.

    Sets and data as in :class:`~planner.siting.mix.TechnologyMix` (pairs :math:`p=(j,t)`,
    demand rows :math:`i` of technology :math:`t(i)` with weights :math:`w_i`, coverage sets
    :math:`N_i = \{p : d_{ij} \le r_t\}`, technology weights :math:`W_t`), plus periods
    :math:`y = 1..Y` with budgets :math:`B_y` and demand growth factors :math:`g_{yt}`.
    Variables :math:`x_{py} \in \{0,1\}` (station :math:`p` open in period :math:`y`),
    :math:`u_{iy} \in [0,1]` (row :math:`i` covered in :math:`y`), site-open
    :math:`s_{jy} \in [0,1]` when site costs :math:`h_j` are given.

    .. math::
        \max \sum_y \sum_i W_{t(i)}\, g_{y t(i)}\, w_i\, u_{iy}

    subject to

    .. math::
        u_{iy} \le \sum_{p \in N_i} x_{py}, \qquad
        x_{py} \ge x_{p,y-1} \quad \text{(a station opened stays open; } x_{p0} = e_p
        \text{, the existing stations)}

    .. math::
        \sum_p c_p (x_{py} - x_{p,y-1}) + \sum_j h_j (s_{jy} - s_{j,y-1}) \le B_y
        \quad \text{(budget of the period)}

    or, with ``carry_over=True`` (unspent budget is kept for later periods),
    :math:`\sum_p c_p x_{py} + \sum_j h_j s_{jy} \le \sum_{k \le y} B_k`. The spacing rows,
    co-location limit, station caps and coverage targets of ``TechnologyMix`` hold in the last
    period (by monotonicity they then hold in every period). Coverage is 0/1 within the radius:
    distance decay is refused.

    Phase plans are nested by construction. The myopic programme (:meth:`myopic`, each period
    optimised alone given the stations already open) is feasible for this model, so the
    optimum accumulates at least its coverage; it is passed to HiGHS as a MIP start, which
    makes that hold for the returned plan even when the time limit stops the search.

    Parameters
    ----------
    mix : TechnologyMix
        The single-period model giving pairs, costs, coverage, spacing and caps (its budget
        is ignored).
    budgets : sequence of float
        Budget of each period (same unit as the capex).
    growth : array (n_periods, n_technologies), optional
        Demand multiplier of each technology in each period (ones when ``None``).
    periods : sequence, optional
        Period labels (``1..Y`` when ``None``).
    carry_over : bool
        Unspent budget carries over to later periods.
    """

    sense = "max"

    def __init__(self, mix: TechnologyMix, budgets, growth=None, periods=None, carry_over: bool = False):
        self.mix = mix
        self.budgets = _as_budgets(budgets)
        self.Y = int(self.budgets.size)
        self.periods = list(periods) if periods is not None else list(range(1, self.Y + 1))
        if len(self.periods) != self.Y:
            raise InputError(f"{len(self.periods)} period labels for {self.Y} budgets")
        self.growth = self._check_growth(growth)
        self.carry_over = bool(carry_over)
        F = sp.csr_matrix(mix.F)
        if F.nnz and not np.all(np.isin(F.data, (0.0, 1.0))):
            raise InputError("phasing supports coverage within a radius only (no distance decay)")
        self.F = F

    @classmethod
    def from_cost_matrix(cls, cost_matrix, technologies, budgets, growth=None, periods=None,
                         carry_over: bool = False, **mix_kwargs) -> PhasedMix:
        """Build from a travel-minute matrix and :class:`~planner.siting.mix.TechnologyData` list."""
        mix = TechnologyMix(cost_matrix, technologies, float(np.sum(_as_budgets(budgets))), **mix_kwargs)
        return cls(mix, budgets, growth=growth, periods=periods, carry_over=carry_over)

    def _check_growth(self, growth) -> np.ndarray:
        T = self.mix.T
        if growth is None:
            return np.ones((self.Y, T))
        g = np.asarray(growth, float)
        if g.ndim == 1 and g.size == self.Y:
            g = np.repeat(g[:, None], T, axis=1)
        if g.shape != (self.Y, T):
            raise InputError(f"growth must be {self.Y} periods x {T} technologies, got shape {g.shape}")
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            raise InputError("growth factors must be non-negative numbers")
        return g

    # ------------------------------------------------------------------ evaluation
    def row_values(self, growth=None) -> np.ndarray:
        """Objective coefficient of each demand row in each period, shape (Y, n_rows)."""
        mx = self.mix
        g = self.growth if growth is None else self._check_growth(growth)
        return g[:, mx.row_tech] * (mx.tech_weight[mx.row_tech] * mx.row_w)[None, :]

    def evaluate(self, open_pairs, growth=None) -> np.ndarray:
        """Weighted coverage of a programme in each period (under ``growth``, default the model's)."""
        x = np.asarray(open_pairs, bool).reshape(self.Y, -1)
        covered = (self.F @ x.T.astype(float)) > 0.5  # (rows, Y)
        return np.einsum("yr,ry->y", self.row_values(growth), covered.astype(float))

    def _site_cost(self) -> np.ndarray:
        """Site costs, with sites that already host an existing station open for free."""
        mx = self.mix
        g = np.asarray(mx.site_cost, float).copy()
        if not mx.required_in_budget:
            g[mx.pair_site[mx.pair_req]] = 0.0
        return g

    def _spend(self, before, after) -> float:
        """Capex of opening the pairs in ``after`` that are not in ``before`` (bool arrays)."""
        mx = self.mix
        new = after & ~before
        g = self._site_cost()
        old_sites = np.zeros(mx.m, bool)
        old_sites[mx.pair_site[before]] = True
        new_sites = np.zeros(mx.m, bool)
        new_sites[mx.pair_site[new]] = True
        return float(mx.pair_cost[new].sum() + g[new_sites & ~old_sites].sum())

    def spent(self, open_pairs) -> np.ndarray:
        """New capex of each period (pairs and sites opened that period)."""
        x = np.asarray(open_pairs, bool).reshape(self.Y, -1)
        prev = np.vstack([self.mix.pair_req[None, :], x[:-1]])
        return np.array([self._spend(prev[y], x[y]) for y in range(self.Y)])

    # ------------------------------------------------------------------ model
    def _milp(self, budgets, growth, lower):
        """MILP over ``len(budgets)`` periods; ``lower`` = pairs open before the first one."""
        mx = self.mix
        Y, P = len(budgets), mx.n_pairs
        milp = MilpModel("max")
        x = milp.add_vars(Y * P, integer=True).reshape(Y, P)
        for y in range(Y):
            milp.fix(x[y, lower], 1.0)
        coef = growth[:, mx.row_tech] * (mx.tech_weight[mx.row_tech] * mx.row_w)[None, :]
        F = self.F
        reach = np.asarray(F.sum(axis=1)).ravel() > 0
        has_t = np.zeros(mx.T, bool)
        for k, t in enumerate(mx.techs):
            has_t[k] = bool(t.target)
        rows = np.flatnonzero(reach & ((coef.max(axis=0) > 0) | has_t[mx.row_tech]))
        u = milp.add_vars(Y * rows.size, cost=coef[:, rows].ravel(), ub=1.0).reshape(Y, rows.size)
        Fr = F[rows].tocoo()
        for y in range(Y):
            # u_iy - sum_{p in N_i} x_py <= 0
            milp.add_rows(np.concatenate([np.arange(rows.size), Fr.row]),
                          np.concatenate([u[y], x[y, Fr.col]]),
                          np.concatenate([np.ones(rows.size), -Fr.data]), rows.size, upper=0.0)
            if y > 0:
                milp.add_rows(np.repeat(np.arange(P), 2), np.column_stack([x[y], x[y - 1]]).ravel(),
                              np.tile([1.0, -1.0], P), P, lower=0.0)
        # costs: what is open before the first period is sunk
        pre = np.zeros(P, bool)
        pre[lower] = True
        c = np.where(pre, 0.0, mx.pair_cost)
        g = self._site_cost()
        g[mx.pair_site[pre]] = 0.0
        s = None
        if np.any(g > 0):  # site-open variables only when some site costs something
            s = milp.add_vars(Y * mx.m, ub=1.0).reshape(Y, mx.m)
            for y in range(Y):
                milp.add_rows(np.repeat(np.arange(P), 2), np.column_stack([x[y], s[y, mx.pair_site]]).ravel(),
                              np.tile([1.0, -1.0], P), P, upper=0.0)
                if y > 0:
                    milp.add_rows(np.repeat(np.arange(mx.m), 2), np.column_stack([s[y], s[y - 1]]).ravel(),
                                  np.tile([1.0, -1.0], mx.m), mx.m, lower=0.0)
        for y in range(Y):
            cols, vals = [x[y]], [c]
            if s is not None:
                cols.append(s[y])
                vals.append(g)
            if self.carry_over:
                cap = float(np.sum(budgets[: y + 1]))
            else:
                cap = float(budgets[y])
                if y > 0:
                    cols.append(x[y - 1])
                    vals.append(-c)
                    if s is not None:
                        cols.append(s[y - 1])
                        vals.append(-g)
            cols = np.concatenate(cols)
            milp.add_rows(np.zeros(cols.size), cols, np.concatenate(vals), 1, upper=cap)
        self._last_period_rows(milp, x[Y - 1], u[Y - 1], rows)
        return milp, x

    def _last_period_rows(self, milp: MilpModel, last: np.ndarray, u_last: np.ndarray, rows: np.ndarray) -> None:
        """The rules that bind the last period only: spacing, co-location, station caps, targets.

        ``last``: the pair columns of the last period; ``u_last``: its coverage columns of the
        demand ``rows``.
        """
        mx = self.mix
        if mx.conf_a.size:
            head = np.minimum(mx.conf_a, mx.conf_b)
            rest = np.maximum(mx.conf_a, mx.conf_b)
            heads, rid = np.unique(head, return_inverse=True)
            deg = np.bincount(rid, minlength=heads.size).astype(float)
            milp.add_rows(np.concatenate([np.arange(heads.size), rid]),
                          np.concatenate([last[heads], last[rest]]),
                          np.concatenate([deg, np.ones(rest.size)]), heads.size, upper=deg)
        per_site = np.bincount(mx.pair_site, minlength=mx.m)
        lim = np.flatnonzero(mx.site_cap[mx.pair_site] < per_site[mx.pair_site])
        if lim.size:
            sites = np.unique(mx.pair_site[lim])
            milp.add_rows(np.searchsorted(sites, mx.pair_site[lim]), last[lim], 1.0, sites.size,
                          upper=mx.site_cap[sites])
        n_pairs_t = np.diff(mx.pair_offset)
        capped = np.flatnonzero(mx.tech_cap < n_pairs_t)
        if capped.size:
            cols = np.isin(mx.pair_tech, capped)
            milp.add_rows(np.searchsorted(capped, mx.pair_tech[cols]), last[cols], 1.0, capped.size,
                          upper=mx.tech_cap[capped])
        for k, t in enumerate(mx.techs):
            if not t.target:
                continue
            sel = mx.row_tech[rows] == k
            milp.add_rows(np.zeros(int(sel.sum())), u_last[sel], mx.row_w[rows[sel]], 1,
                          lower=t.target * mx.total_t[k])

    def _single_period(self, k: int, open_before: np.ndarray, budget: float) -> TechnologyMix:
        """Period ``k`` alone as a :class:`TechnologyMix`: its growth in the technology weights,
        the stations open before it as existing ones, the same spacing, co-location and caps
        (coverage targets apply in the last period only, as in the programme)."""
        from dataclasses import replace

        mx = self.mix
        conflicts = {}
        if mx.conf_a.size:
            for t in range(mx.T):
                sel = mx.pair_tech[mx.conf_a] == t
                a, b = mx.pair_site[mx.conf_a[sel]], mx.pair_site[mx.conf_b[sel]]
                if a.size:
                    conflicts[t] = sp.csr_matrix((np.ones(a.size), (a, b)), shape=(mx.m, mx.m))
        techs = []
        for t, tech in enumerate(mx.techs):
            mine = mx.pair_tech == t
            eligible = np.zeros(mx.m, bool)
            eligible[mx.pair_site[mine]] = True
            required = np.zeros(mx.m, bool)
            required[mx.pair_site[mine & open_before]] = True
            cost = tech.cost if tech.cost is not None else mx.shared
            techs.append(replace(tech, weight=float(tech.weight * self.growth[k, t]), eligible=eligible,
                                 required=required, conflicts=conflicts.get(t), min_spacing=None, cost=cost,
                                 weights=mx.w_t[t], target=tech.target if k == self.Y - 1 else None))
        return TechnologyMix(None, techs, budget, site_cost=self._site_cost(), max_per_site=mx.site_cap,
                             site_ids=mx.site_ids, demand_ids=mx.demand_ids)

    def myopic(self, time_limit: float = 60.0, mip_gap: float = 1e-4) -> PhasedPlan:
        """Each period optimised alone (:class:`TechnologyMix`, heuristic start + HiGHS), given the
        stations opened before it."""
        t0 = time.perf_counter()
        mx = self.mix
        X = np.zeros((self.Y, mx.n_pairs), bool)
        before = mx.pair_req.copy()
        left = 0.0
        for y in range(self.Y):
            budget = self.budgets[y] + (left if self.carry_over else 0.0)
            per = max((time_limit - (time.perf_counter() - t0)) / (self.Y - y), 1.0)
            res = self._single_period(y, before, budget).solve(time_limit=per, mip_gap=mip_gap)
            now = before.copy()
            for site, tech in res.pairs:
                k = [t.name for t in mx.techs].index(tech)
                now[np.flatnonzero((mx.pair_site == site) & (mx.pair_tech == k))] = True
            X[y] = now
            left = budget - self._spend(before, now)
            before = now
        return self._plan(X, np.nan, "evaluated", time.perf_counter() - t0)

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-4, start: PhasedPlan | None = None) -> PhasedPlan:
        """Solve the programme (MIP start: ``start``, or the myopic programme when ``None``).

        When HiGHS finds nothing better than the start within the time limit, the start is
        returned with HiGHS' bound.
        """
        t0 = time.perf_counter()
        if start is None:
            start = self.myopic(time_limit=time_limit / 3, mip_gap=mip_gap)
        left = max(time_limit - (time.perf_counter() - t0), 1.0)
        milp, x = self._milp(self.budgets, self.growth, np.flatnonzero(self.mix.pair_req))
        out = milp.solve(left, mip_gap, presolve="off", start=(x.ravel(), start.open_pairs.astype(float).ravel()))
        if out.status == "infeasible":
            raise SolverError("no programme meets the coverage targets within the budgets under the "
                              "spacing, co-location and station-count rules")
        status = "optimal" if out.status == "optimal" else "time_limit"
        if out.x is not None:
            plan = self._plan(out.x[x] > 0.5, out.bound, status, time.perf_counter() - t0)
            if plan.objective >= start.objective - 1e-9 * max(1.0, abs(start.objective)):
                return plan
        return self._plan(start.open_pairs, out.bound, status, time.perf_counter() - t0)

    def _plan(self, X, bound, status, seconds) -> PhasedPlan:
        mx = self.mix
        X = np.asarray(X, bool)
        vals = self.evaluate(X)
        obj = float(vals.sum())
        spent = self.spent(X)
        covered = (self.F @ X.T.astype(float)) > 0.5
        by_period = []
        for y, label in enumerate(self.periods):
            share, stations = {}, {}
            for k, t in enumerate(mx.techs):
                r0, r1 = mx.row_offset[k], mx.row_offset[k + 1]
                tot = mx.total_t[k]
                share[t.name] = float(mx.row_w[r0:r1] @ covered[r0:r1, y] / tot) if tot > 0 else float("nan")
                stations[t.name] = int(np.sum(X[y] & (mx.pair_tech == k)))
            by_period.append({"period": label, "objective": float(vals[y]), "spent": float(spent[y]),
                              "budget": float(self.budgets[y]), "covered_share": share, "stations": stations})
        rows = []
        first = np.where(X.any(axis=0), X.argmax(axis=0), -1)
        ids = mx.site_ids
        for p in np.flatnonzero(first >= 0):
            site = int(mx.pair_site[p])
            rows.append({"site": site, "site_id": ids[site] if ids is not None else site,
                         "technology": mx.techs[mx.pair_tech[p]].name,
                         "opened": self.periods[first[p]], "capex": float(mx.pair_capex[p]),
                         "existing": bool(mx.pair_req[p])})
        return PhasedPlan(periods=list(self.periods), open_pairs=X, objective=obj, bound=float(bound),
                          gap=relative_gap(obj, bound) if np.isfinite(bound) else float("nan"),
                          status=status, seconds=seconds, by_period=by_period, stations=rows)
