"""Multi-technology station mix under one budget (H2 refuelling, high-power charging,
PV + storage + charging, ...).

Each technology has its own capex, coverage radius, demand set and weight, optional coverage
target, site eligibility, minimum spacing between its own stations, existing (required)
stations and an optional maximum number of stations. A site may host several technologies when eligible for them (co-location), at most
one station per (site, technology).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError, SolverError

from ._base import Candidate, SitingModel, coverage_block, merge_rows, started_candidate
from ._milp import HIGHS_NAME, LpRelaxation, MilpModel
from ._search import SearchProblem, evaluate, solve_heuristic
from ._validate import as_candidate_values, as_cost_matrix, as_index_set, as_weights
from .coverage import START_OPTIONS
from .decay import Decay, coverage_values
from .result import MixResult, relative_gap

__all__ = ["TechnologyData", "TechnologyMix"]

log = logging.getLogger(__name__)


def _whole(v) -> bool:
    """A whole number >= 0 (``max_stations``)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool) and np.isfinite(f) and f >= 0 and f.is_integer()


@dataclass
class TechnologyData:
    """What the model needs of one station technology: its costs, radius, demand and site rules as arrays.

    The planner-facing description of a technology (capex per station, radius, profile, demand
    kind as in a scenario) is :class:`planner.technology.Technology`;
    :meth:`planner.stations.problem.SitingProblem.model` turns it into this class.

    Parameters
    ----------
    name : str
        Label, e.g. ``"h2"``, ``"hpc"``, ``"pv_storage"``.
    capex : float or array (n_sites,)
        Investment per station (per site when an array).
    radius : float
        Coverage radius in minutes (decay cutoff unless the decay sets one).
    weights : array (n_demand,), str or None
        Demand weights of this technology over the model's demand rows (0 = not part of its
        demand set); a column name with ``from_geodataframe``; ones when ``None``.
    weight : float
        Objective weight of this technology's covered demand.
    target : float, optional
        Minimum covered share of its demand, in [0, 1] (decay-weighted when a decay is set).
    eligible : bool array (n_sites,), str or None
        Sites that may host this technology (a boolean column name with
        ``from_geodataframe``); all when ``None``.
    decay : Decay, optional
    min_spacing : float, optional
        Two new stations of this technology must be at least this far apart in the model's
        ``site_distance`` matrix (metres or minutes, as that matrix).
    conflicts : sparse (n_sites, n_sites), optional
        Explicit pairs of sites that cannot both host this technology.
    required : bool array / positions / str, optional
        Sites that already have this technology (always open; outside the budget).
    cost : array (n_demand_t, n_sites), optional
        Own travel-minute matrix when the technology's demand points differ from the
        model's shared demand rows (``weights`` then has ``n_demand_t`` entries).
    max_stations : int, optional
        At most this many open stations of this technology, existing ones included (0 = none
        may be opened); no limit when ``None``.
    """

    name: str
    capex: float | np.ndarray
    radius: float
    weights: np.ndarray | str | None = None
    weight: float = 1.0
    target: float | None = None
    eligible: np.ndarray | str | None = None
    decay: Decay | None = None
    min_spacing: float | None = None
    conflicts: sp.spmatrix | None = None
    required: np.ndarray | str | None = None
    cost: np.ndarray | None = None
    max_stations: int | None = None
    extra: dict = field(default_factory=dict)


#: HiGHS options of the mix MILP (with a MIP start). A small cut pool whose cuts age out quickly
#: keeps the solver's memory down and helps it along: with the spacing written as neighbourhood
#: rows, ``benchmarks/run.py load`` (3,344 candidates, 60 s) peaked at about 1.4 GB in-process
#: instead of 1.56 GB with HiGHS' pool defaults (same incumbent, bound 0.005 % weaker), and the
#: demo proves optimality in 11 s instead of 15.5 s.
#: HiGHS' feasibility-jump heuristic is off: on the load problem (17k columns, 1.6M non-zeros)
#: it ran for about 100 s before the root LP, past the time limit, even with a MIP start given.
_MIX_OPTIONS = {**START_OPTIONS, "mip_pool_soft_limit": 500, "mip_pool_age_limit": 5,
                "mip_heuristic_run_feasibility_jump": False}
#: The joint MILP (technologies sharing sites or site costs, as in the demo) also runs HiGHS'
#: RINS heuristic: on the demo problem at budgets of 0.8, 1.2, 1.5, 2 and 3 亿元 it proved 0.1 % in
#: 1.1–1.9 s instead of 1.1–8.2 s (1.5 亿元: 4.4 s → 1.9 s), with the same or a better incumbent.
#: The per-technology MILPs of the split solver (the load run) keep it off: no gain there
#: (42.5 s without, 44.0 s with).
_JOINT_OPTIONS = {**_MIX_OPTIONS, "mip_heuristic_run_rins": True}

#: Most budget splits (station counts per technology) enumerated by the split solver; beyond
#: this the joint MILP is solved.
_MAX_SPLITS = 200_000


class TechnologyMix(SitingModel):
    r"""Choose (site, technology) stations under one budget to maximise weighted coverage.

    Sets: sites :math:`J`, technologies :math:`T`, eligible pairs :math:`P \subseteq J \times T`,
    demand :math:`I_t` of technology :math:`t` with weights :math:`w_{ti}`; coverage value
    :math:`f_t(d_{ij}) \in [0, 1]` (1 within radius :math:`r_t` without decay). Variables:
    :math:`x_{jt} \in \{0,1\}` for :math:`(j,t) \in P`, site-open :math:`s_j \in [0,1]` (when
    site costs are given) and coverage levels :math:`u` (see
    :func:`planner.siting._base.coverage_block`), which make
    :math:`\mathrm{cov}_{ti} = \max_{j: x_{jt}=1} f_t(d_{ij})`.

    .. math::
        \max \sum_t W_t \sum_{i \in I_t} w_{ti}\, \mathrm{cov}_{ti}

    subject to

    .. math::
        \sum_{(j,t) \in P \setminus E} c_{jt} x_{jt} + \sum_j g_j s_j \le B
        \quad \text{(budget; existing stations } E \text{ are sunk)}

    .. math::
        x_{jt} \le s_j \quad \text{(site opening, when site costs } g \text{ are given)}

    .. math::
        \sum_{i \in I_t} w_{ti}\, \mathrm{cov}_{ti} \ge \tau_t \sum_{i \in I_t} w_{ti}
        \quad \text{(coverage target of } t)

    .. math::
        |N_t(j)|\, x_{jt} + \sum_{k \in N_t(j)} x_{kt} \le |N_t(j)|
        \quad \text{(spacing; } N_t(j) = \{k > j : (j,k) \in C_t\}\text{)}

    .. math::
        \sum_t x_{jt} \le m_j \quad \text{(co-location limit)}, \qquad
        x_{jt} = 1 \;\; \forall (j,t) \in E

    .. math::
        \sum_{j: (j,t) \in P} x_{jt} \le N_t \quad \text{(at most } N_t
        \text{ stations of } t \text{, existing ones included; when } N_t \text{ is set)} .

    Spacing is written as one neighbourhood row per station instead of one row
    :math:`x_{jt} + x_{kt} \le 1` per conflicting pair: the same integer solutions and a far
    smaller LP. Each pair is still a clique HiGHS can find in these rows (coefficients
    :math:`|N_t(j)| + 1 > |N_t(j)|`); on ``benchmarks/run.py load`` (3,344 candidates, 235k
    conflicting pairs, 60 s) the first root bound was the same as with pair rows, with 16.5k rows
    in all instead of 207k and a process peak of about 1.4 GB instead of 2.0 GB (same incumbent,
    bound 0.03 % weaker at the time limit); the demo proves optimality in 11 s instead of 20 s.

    When the technologies share nothing but the budget (no site costs, no binding co-location
    limit, one cost per new station of a technology, no coverage targets), the exact solve
    works over budget splits instead of one joint MILP (see :meth:`_exact_by_split`): each
    technology alone is far easier, and the joint model's weak point was its incumbent (the
    demo's first root bound was already within 0.14 % of the optimum that HiGHS did not find).

    Parameters
    ----------
    cost_matrix : array (n_demand, n_sites) or None
        Shared travel minutes from demand points to sites (``inf`` = unreachable); may be
        ``None`` when every technology brings its own ``cost``.
    technologies : list of TechnologyData
    budget : float
    site_cost : array (n_sites,) or float, optional
        Cost paid once per site opened for any new station (land, grid connection).
    site_distance : array (n_sites, n_sites), optional
        Distances used by ``TechnologyData.min_spacing``.
    allow_colocation : bool
        Allow several technologies at one site.
    max_per_site : int or array, optional
        Maximum number of technologies per site.
    required_in_budget : bool
        Count existing stations against the budget (default: no, they are built).
    site_ids, demand_ids : array, optional
    """

    sense = "max"
    default_presolve = "off"

    def __init__(self, cost_matrix, technologies, budget, site_cost=None, site_distance=None,
                 allow_colocation: bool = True, max_per_site=None, required_in_budget: bool = False,
                 site_ids=None, demand_ids=None):
        if not technologies:
            raise InputError("at least one technology is needed")
        names = [t.name for t in technologies]
        if len(set(names)) != len(names):
            raise InputError(f"technology names must be unique, got {names}")
        self.shared = None if cost_matrix is None else as_cost_matrix(cost_matrix)
        if self.shared is None and any(t.cost is None for t in technologies):
            raise InputError("a shared cost matrix is needed for technologies without their own cost")
        m = None
        if self.shared is not None:
            m = self.shared.shape[1]
        for t in technologies:
            if t.cost is not None:
                mt = np.asarray(t.cost).shape[1]
                if m is not None and mt != m:
                    raise InputError(f"technology '{t.name}': cost matrix has {mt} sites, expected {m}")
                m = mt
        self.m = m
        self.techs = list(technologies)
        self.T = len(self.techs)
        self.budget = float(budget)
        if not np.isfinite(self.budget) or self.budget < 0:
            raise InputError(f"budget must be a non-negative number, got {budget}")
        self.site_cost = as_candidate_values(site_cost, m, "site costs", default=0.0)
        self.site_ids = site_ids
        self.candidate_ids = site_ids
        self.demand_ids = demand_ids
        self.required_in_budget = bool(required_in_budget)
        if site_distance is not None:
            site_distance = np.asarray(site_distance, float)
            if site_distance.shape != (m, m):
                raise InputError(f"site_distance must be {m} x {m}, got {site_distance.shape}")
        self._build_pairs(site_distance)
        # co-location limit per site
        if max_per_site is None:
            cap = np.full(m, self.T if allow_colocation else 1, np.int64)
        else:
            cap = np.broadcast_to(np.asarray(max_per_site, np.int64), (m,)).copy()
            if not allow_colocation:
                cap = np.minimum(cap, 1)
        req_per_site = np.bincount(self.pair_site[self.pair_req], minlength=m)
        self.site_cap = np.maximum(cap, req_per_site)  # existing stations are never removed
        self.allow_colocation = bool(allow_colocation)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_cost_matrix(cls, cost_matrix, technologies, budget, **kwargs) -> "TechnologyMix":
        """Build from a shared travel-minute matrix (demand x sites)."""
        return cls(cost_matrix, technologies, budget, **kwargs)

    @classmethod
    def from_geodataframe(cls, demand, sites, cost, technologies, budget, site_cost_col=None,
                          site_distance=None, site_id_col=None, demand_id_col=None,
                          **kwargs) -> "TechnologyMix":
        """Build from GeoDataFrames; string fields of each TechnologyData name columns.

        ``weights`` names a demand column; ``eligible``, ``required`` and ``capex`` name site
        columns. ``cost`` is a matrix or ``cost(demand, sites)``; ``site_distance`` a matrix or
        ``site_distance(sites)``.
        """
        from dataclasses import replace

        matrix = cost(demand, sites) if callable(cost) else cost
        techs = []
        for t in technologies:
            ch = {}
            if isinstance(t.weights, str):
                ch["weights"] = demand[t.weights].to_numpy(dtype=float)
            for attr in ("eligible", "required"):
                v = getattr(t, attr)
                if isinstance(v, str):
                    ch[attr] = sites[v].fillna(False).to_numpy(dtype=bool)
            if isinstance(t.capex, str):
                ch["capex"] = sites[t.capex].to_numpy(dtype=float)
            techs.append(replace(t, **ch))
        if callable(site_distance):
            site_distance = site_distance(sites)
        sc = sites[site_cost_col].to_numpy(dtype=float) if site_cost_col is not None else None

        def _ids(df, col):
            if col is not None:
                return df[col].to_numpy()
            return df["site_id"].to_numpy() if "site_id" in df.columns else df.index.to_numpy()

        return cls(matrix, techs, budget, site_cost=sc, site_distance=site_distance,
                   site_ids=_ids(sites, site_id_col), demand_ids=_ids(demand, demand_id_col), **kwargs)

    def _build_pairs(self, site_distance):
        m = self.m
        ps, pt, pc, preq = [], [], [], []
        self.F_t, self.w_t, self.total_t = [], [], []
        conflicts = []
        for k, t in enumerate(self.techs):
            if not (np.isfinite(t.radius) and t.radius > 0):
                raise InputError(f"technology '{t.name}': radius must be positive minutes")
            if not (np.isfinite(t.weight) and t.weight >= 0):
                raise InputError(f"technology '{t.name}': weight must be non-negative")
            if t.target is not None and not 0 <= t.target <= 1:
                raise InputError(f"technology '{t.name}': target must be a share in [0, 1]")
            if t.max_stations is not None and not _whole(t.max_stations):
                raise InputError(f"technology '{t.name}': max_stations must be a whole number >= 0, "
                                 f"got {t.max_stations}")
            C = self.shared if t.cost is None else as_cost_matrix(t.cost, f"cost matrix of '{t.name}'")
            w = as_weights(t.weights, C.shape[0], f"demand weights of '{t.name}'")
            elig = np.ones(m, bool) if t.eligible is None else np.asarray(t.eligible, bool).reshape(-1)
            if elig.size != m:
                raise InputError(f"technology '{t.name}': eligibility has {elig.size} entries, expected {m}")
            req = as_index_set(t.required, m, f"existing '{t.name}' stations")
            elig = elig.copy()
            elig[req] = True  # an existing station is eligible by definition
            capex = as_candidate_values(t.capex, m, f"capex of '{t.name}'")
            sites = np.flatnonzero(elig)
            ps.append(sites)
            pt.append(np.full(sites.size, k))
            pc.append(capex[sites])
            preq.append(np.isin(sites, req))
            F = coverage_values(C, t.radius, t.decay)[:, sites]
            self.F_t.append(sp.csr_matrix(F))
            self.w_t.append(w)
            self.total_t.append(float(w.sum()))
            # spacing conflicts among this technology's pairs
            Cm = None
            if t.conflicts is not None:
                Cm = sp.csr_matrix(t.conflicts, dtype=float)
                if Cm.shape != (m, m):
                    raise InputError(f"technology '{t.name}': conflict matrix must be {m} x {m}")
            if t.min_spacing is not None:
                if site_distance is None:
                    raise InputError(f"technology '{t.name}': min_spacing needs the model's site_distance")
                close = sp.csr_matrix((site_distance < t.min_spacing) & ~np.eye(m, dtype=bool))
                Cm = close if Cm is None else (Cm + close)
            if Cm is not None:
                Cm = sp.csr_matrix(Cm[sites][:, sites] != 0, dtype=float)
                Cm = sp.triu(Cm + Cm.T, k=1).tocoo()
                both_req = np.isin(sites[Cm.row], req) & np.isin(sites[Cm.col], req)
                conflicts.append((Cm.row[~both_req], Cm.col[~both_req], sites.size))
            else:
                conflicts.append((np.zeros(0, np.int64), np.zeros(0, np.int64), sites.size))
        self.pair_site = np.concatenate(ps).astype(np.int64)
        self.pair_tech = np.concatenate(pt).astype(np.int64)
        self.pair_capex = np.concatenate(pc)
        self.pair_req = np.concatenate(preq)
        self.n_pairs = self.pair_site.size
        offs = np.concatenate([[0], np.cumsum([s.size for s in ps])])
        self.pair_offset = offs
        a = [c[0] + offs[k] for k, c in enumerate(conflicts)]
        b = [c[1] + offs[k] for k, c in enumerate(conflicts)]
        a = np.concatenate(a).astype(np.int64) if a else np.zeros(0, np.int64)
        b = np.concatenate(b).astype(np.int64) if b else np.zeros(0, np.int64)
        self.conf_a, self.conf_b = a, b
        # global value matrix: rows (t, i), columns pairs of t
        row_off = np.concatenate([[0], np.cumsum([F.shape[0] for F in self.F_t])])
        self.row_offset = row_off
        blocks = sp.block_diag(self.F_t, format="csr")
        self.F = blocks
        self.row_tech = np.repeat(np.arange(self.T), np.diff(row_off))
        self.row_w = np.concatenate(self.w_t)
        self.tech_weight = np.array([t.weight for t in self.techs], float)
        # per-technology station cap (no cap: the number of its pairs)
        n_pairs_t = np.diff(offs)
        self.tech_cap = np.array([n_pairs_t[k] if t.max_stations is None else int(t.max_stations)
                                  for k, t in enumerate(self.techs)], np.int64)
        self.has_tech_cap = any(t.max_stations is not None for t in self.techs)
        self.pair_cost = np.where(self.pair_req & ~self.required_in_budget, 0.0, self.pair_capex)

    # ------------------------------------------------------------------ checks
    def _site_cost_eff(self):
        g = self.site_cost.copy()
        if not self.required_in_budget:
            g[self.pair_site[self.pair_req]] = 0.0  # sites with an existing station are open
        return g

    def _precheck(self):
        req_spent = float(self.pair_cost[self.pair_req].sum())
        if self.required_in_budget:
            req_spent += float(self.site_cost[np.unique(self.pair_site[self.pair_req])].sum())
        if req_spent > self.budget + 1e-9:
            raise SolverError(f"existing stations already cost {req_spent:g}, above the budget "
                              f"{self.budget:g}")
        req_t = np.bincount(self.pair_tech[self.pair_req], minlength=self.T)
        for k, t in enumerate(self.techs):
            if req_t[k] > self.tech_cap[k]:
                raise SolverError(f"'{t.name}' already has {req_t[k]} existing stations, more than its "
                                  f"max_stations = {self.tech_cap[k]}")
        g = self._site_cost_eff()
        # new stations that the station caps still allow
        new = ~self.pair_req & (req_t < self.tech_cap)[self.pair_tech]
        if new.any() and not self.pair_req.any():
            full = self.pair_cost[new] + g[self.pair_site[new]]
            k = int(np.argmin(full))
            if full[k] > self.budget - req_spent + 1e-9:
                pi = np.flatnonzero(new)[k]
                site = self.pair_site[pi]
                sid = self.site_ids[site] if self.site_ids is not None else site
                raise SolverError(f"budget {self.budget:g} fits no station: the cheapest is "
                                  f"'{self.techs[self.pair_tech[pi]].name}' at site {sid} "
                                  f"costing {full[k]:g}")
        for k, t in enumerate(self.techs):
            if t.target is None or t.target <= 0:
                continue
            tot = self.total_t[k]
            if tot <= 0:
                continue
            best = float(self.w_t[k] @ np.asarray(self.F_t[k].max(axis=1).todense()).ravel())
            if best < t.target * tot - 1e-9 * max(1.0, tot):
                raise SolverError(f"coverage target {100 * t.target:g} % for '{t.name}' is "
                                  f"unreachable: all its eligible sites together cover "
                                  f"{100 * best / tot:.1f} %")

    def _target_message(self) -> str:
        parts = [f"{t.name} >= {100 * t.target:g} %" for t in self.techs if t.target]
        caps = [f"{t.name} <= {t.max_stations}" for t in self.techs if t.max_stations is not None]
        rules = "the spacing and co-location rules" + (
            " and the station caps (max_stations: " + ", ".join(caps) + ")" if caps else "")
        return ("no station plan meets the coverage targets (" + ", ".join(parts) +
                f") within the budget {self.budget:g} under {rules}")

    # ------------------------------------------------------------------ heuristic
    def _problem(self) -> SearchProblem:
        W = self.tech_weight.copy()
        pos = W[W > 0]
        tiny = (pos.min() if pos.size else 1.0) * 1e-6
        Wp = np.where(W > 0, W, tiny)  # target-only technologies still steer the search
        scale = Wp[self.row_tech] * self.row_w
        V = sp.diags(scale) @ self.F
        targets = np.array([(t.target or 0.0) * self.total_t[k] * Wp[k] for k, t in enumerate(self.techs)])
        has_t = any(t.target for t in self.techs)
        conf = None
        if self.conf_a.size:
            conf = sp.coo_matrix((np.ones(self.conf_a.size), (self.conf_a, self.conf_b)),
                                 shape=(self.n_pairs, self.n_pairs))
        return SearchProblem(V=V, budget=self.budget, cost=self.pair_cost,
                             fixed=np.flatnonzero(self.pair_req), conflicts=conf,
                             group=self.pair_site, group_cost=self._site_cost_eff(),
                             group_cap=self.site_cap,
                             row_group=self.row_tech if has_t else None,
                             target=targets if has_t else None,
                             kind=self.pair_tech if self.has_tech_cap else None,
                             kind_cap=self.tech_cap if self.has_tech_cap else None)

    def _heuristic(self, deadline):
        P = self._problem()
        st, ok = solve_heuristic(P, max(deadline - time.perf_counter(), 0.01), kicks=self._kicks)
        if not ok:
            return None
        sel = st.selected
        return Candidate(sel, self._objective(sel))

    # ------------------------------------------------------------------ exact
    def _milp(self):
        milp = MilpModel("max")
        x = milp.add_vars(self.n_pairs, 0.0, 0.0, 1.0, integer=True)
        milp.fix(x[self.pair_req], 1.0)
        # zero-weight rows dropped, identical rows (same technology block) merged
        F, w, rep = merge_rows(self.F, self.row_w)
        row_tech = self.row_tech[rep]
        ucols, coef, lev_row = coverage_block(milp, F, x, self.tech_weight[row_tech] * w)
        # budget (+ site opening)
        g = self._site_cost_eff()
        bcols, bvals = [x], [self.pair_cost]
        if np.any(self.site_cost > 0):
            s = milp.add_vars(self.m, 0.0, 0.0, 1.0)
            e = np.arange(self.n_pairs)
            milp.add_rows(np.concatenate([e, e]), np.concatenate([x, s[self.pair_site]]),
                          np.concatenate([np.ones(self.n_pairs), -np.ones(self.n_pairs)]),
                          self.n_pairs, upper=0.0)
            bcols.append(s)
            bvals.append(g)
        bc = np.concatenate(bcols)
        milp.add_rows(np.zeros(bc.size), bc, np.concatenate(bvals), 1, upper=self.budget)
        # coverage targets
        lev_tech = row_tech[lev_row]
        for k, t in enumerate(self.techs):
            if not t.target:
                continue
            sel = lev_tech == k
            milp.add_rows(np.zeros(int(sel.sum())), ucols[sel], coef[sel] * w[lev_row[sel]], 1,
                          lower=t.target * self.total_t[k])
        _spacing_rows(milp, x, self.conf_a, self.conf_b)
        # co-location limit
        per_site = np.bincount(self.pair_site, minlength=self.m)
        lim = np.flatnonzero(self.site_cap[self.pair_site] < per_site[self.pair_site])
        if lim.size:
            sites = np.unique(self.pair_site[lim])
            rid = np.searchsorted(sites, self.pair_site[lim])
            milp.add_rows(rid, x[lim], 1.0, sites.size, upper=self.site_cap[sites])
        # station caps per technology
        n_pairs_t = np.diff(self.pair_offset)
        capped = np.flatnonzero(self.tech_cap < n_pairs_t)
        if capped.size:
            cols = np.isin(self.pair_tech, capped)
            rid = np.searchsorted(capped, self.pair_tech[cols])
            milp.add_rows(rid, x[cols], 1.0, capped.size, upper=self.tech_cap[capped])
        return milp, x

    def _tech_part(self, k: int, cols: np.ndarray):
        """Technology ``k`` restricted to its pairs ``cols`` (global pair numbers, sorted):
        ``(F, w, req, a, b)`` with values, weights of its merged demand rows, which columns
        are existing stations and its conflicts as positions in ``cols``."""
        lo = self.pair_offset[k]
        F, w, _ = merge_rows(self.F_t[k][:, cols - lo], self.w_t[k])
        own = np.isin(self.conf_a, cols) & np.isin(self.conf_b, cols)  # conflicts never join technologies
        a, b = np.searchsorted(cols, self.conf_a[own]), np.searchsorted(cols, self.conf_b[own])
        return F, w, self.pair_req[cols], a, b

    def _tech_milp(self, k: int, stations: int, cols: np.ndarray):
        """The MILP of technology ``k`` alone, on its pairs ``cols``, with at most ``stations``
        new stations.

        Returns ``(milp, x, row)``: ``x`` are the columns of ``cols`` (same order) and ``row``
        the index of the station-count row.
        """
        F, w, req, a, b = self._tech_part(k, cols)
        milp = MilpModel("max")
        x = milp.add_vars(cols.size, 0.0, 0.0, 1.0, integer=True)
        milp.fix(x[req], 1.0)
        coverage_block(milp, F, x, self.tech_weight[k] * w)
        new = np.flatnonzero(~req)
        row = milp.add_rows(np.zeros(new.size), x[new], 1.0, 1, upper=float(stations))[0]
        _spacing_rows(milp, x, a, b)
        return milp, x, row

    def _tech_heuristic(self, k: int, stations: int, time_limit: float, cols: np.ndarray) -> np.ndarray:
        """Greedy + swap search for technology ``k`` alone, on its pairs ``cols``, with at most
        ``stations`` new stations; its open pairs (existing ones included)."""
        F, w, req, a, b = self._tech_part(k, cols)
        conf = sp.coo_matrix((np.ones(a.size), (a, b)), shape=(cols.size, cols.size)) if a.size else None
        P = SearchProblem(V=sp.diags(self.tech_weight[k] * w) @ F, budget=float(stations),
                          cost=(~req).astype(float), fixed=np.flatnonzero(req), conflicts=conf)
        st, _ = solve_heuristic(P, time_limit, kicks=self._kicks_heuristic)
        return cols[st.selected]

    def _undominated(self, k: int) -> np.ndarray:
        r"""Pairs of technology ``k`` that may be needed in an optimal plan (global numbers).

        A new station ``j`` is left out when a kept one ``q`` of the same technology covers
        every demand row at least as well (:math:`F_{ij} \le F_{iq}`) and conflicts with no
        station that ``j`` does not conflict with (:math:`N(q) \setminus \{j\} \subseteq
        N(j)`): in any feasible plan with ``j``, ``q`` can take its place (or ``j`` can go
        when ``q`` is open) at no lower value, the same count and cost. Only valid where
        the technology is solved on its own (the split solver: no site costs, no co-location
        limit, one cost per new station). Columns without coverage go first.
        """
        lo, hi = self.pair_offset[k], self.pair_offset[k + 1]
        n = hi - lo
        F, _, _ = merge_rows(self.F_t[k], self.w_t[k])
        F = sp.csc_matrix(F)
        P = sp.csc_matrix((np.ones(F.nnz), F.indices, F.indptr), shape=F.shape)
        cnt = np.diff(P.indptr)
        own = (self.conf_a >= lo) & (self.conf_a < hi)
        C = sp.coo_matrix((np.ones(int(own.sum())), (self.conf_a[own] - lo, self.conf_b[own] - lo)), shape=(n, n))
        C = ((C + C.T) > 0).astype(np.float64).tocsr()
        deg = np.asarray(C.sum(axis=1)).ravel()
        # candidate pairs (j, q): q covers every row j covers ...
        cover = (P.T @ P).tocoo()
        sel = (cover.data >= cnt[cover.row]) & (cover.row != cover.col)
        j, q = cover.row[sel], cover.col[sel]
        # ... and conflicts with nothing j does not: |N(q)| - |N(j) & N(q)| - [j in N(q)] = 0
        shared = np.asarray((C @ C.T)[j, q]).ravel()
        adj = np.asarray(C[j, q]).ravel()
        keep_pair = deg[q] - shared - adj <= 0
        if not np.all(F.data == 1.0):  # decay values: q must be at least as good row by row
            for e in np.flatnonzero(keep_pair):
                rows = F.indices[F.indptr[j[e]]:F.indptr[j[e] + 1]]
                keep_pair[e] = np.all(F[:, q[e]].toarray().ravel()[rows] >= F.data[F.indptr[j[e]]:F.indptr[j[e] + 1]])
        D = sp.csr_matrix((np.ones(int(keep_pair.sum()), bool), (j[keep_pair], q[keep_pair])), shape=(n, n))
        req = self.pair_req[lo:hi]
        order = np.lexsort((np.arange(n), -cnt))  # widest coverage first; ties by position
        kept = np.zeros(n, bool)
        for c in order:
            if req[c]:
                kept[c] = True
            elif cnt[c] > 0 and not kept[D.indices[D.indptr[c]:D.indptr[c + 1]]].any():
                kept[c] = True  # no kept pair dominates it (a pair covering nothing is left out)
        return lo + np.flatnonzero(kept)

    def _split_sizes(self):
        """Cost of a new station and the most new stations per technology, when the
        technologies share nothing but the budget; ``None`` otherwise.

        They then do when no site cost is set, no co-location limit binds, every new station
        of a technology costs the same and no technology has a coverage target.
        """
        if self.T < 2 or np.any(self.site_cost > 0) or any(t.target for t in self.techs):
            return None
        per_site = np.bincount(self.pair_site, minlength=self.m)
        if np.any(self.site_cap < per_site):
            return None
        spent = float(self.pair_cost[self.pair_req].sum())
        left = self.budget - spent
        req_t = np.bincount(self.pair_tech[self.pair_req], minlength=self.T)
        cost, most = np.zeros(self.T), np.zeros(self.T, np.int64)
        for k in range(self.T):
            new = ~self.pair_req & (self.pair_tech == k)
            c = np.unique(self.pair_cost[new])
            if c.size > 1:
                return None
            cost[k] = c[0] if c.size else 0.0
            n = min(int(new.sum()), int(self.tech_cap[k] - req_t[k]))
            if cost[k] > 0:
                n = min(n, int(np.floor(left / cost[k] + 1e-9)))
            most[k] = max(n, 0)
        if np.prod(most.astype(float) + 1) > _MAX_SPLITS:
            return None
        return cost, most, left

    def _exact(self, time_limit, mip_gap, presolve, start, verbose):
        sizes = self._split_sizes()
        if sizes is not None:
            return self._exact_by_split(sizes, time_limit, mip_gap, start, verbose)
        milp, x = self._milp()
        return started_candidate(milp, x, start, time_limit, mip_gap, presolve, verbose,
                                  self._target_message(), self._objective, options=_JOINT_OPTIONS)

    def _exact_by_split(self, sizes, time_limit, mip_gap, start, verbose):
        r"""Exact solve over the budget splits when technologies share only the budget.

        Then the optimum is :math:`\max \sum_t f_t(k_t)` over station counts :math:`k` with
        :math:`\sum_t c_t k_t \le B'` (:math:`B'` the budget left after existing stations,
        :math:`c_t` the cost of a new station of :math:`t`), where :math:`f_t(k)` is the best
        value of technology :math:`t` alone with at most :math:`k` new stations (spacing and
        existing stations included). :math:`f_t` is non-decreasing. Upper bounds on it come
        from the LP relaxation of :meth:`_tech_milp`: for any non-negative row prices
        :math:`y` (the LP duals at some :math:`k_0`), the Lagrangian bound
        :math:`\sum_j \max_{x_j} (c_j - (A^T y)_j) x_j + y^T b` is valid and linear in the
        count row's right-hand side :math:`k`, so one LP bounds :math:`f_t` at every
        :math:`k` (computed from the duals, not taken from the LP's value, so it holds
        whatever the LP's tolerances); HiGHS' MIP bound at a solved :math:`k` bounds every
        :math:`k' \le k`. Lower bounds (with their station sets) come from the start, from
        greedy + swap searches per technology and from per-technology MILPs (each to an
        absolute gap of ``mip_gap``/(2T) of the best value, so a split of solved parts is
        within ``mip_gap``). The split with the largest upper bound is refined (an LP at its
        counts, then searches, then the MILP of its loosest technology) until that bound is
        within ``mip_gap`` of the best split's value. Each technology is solved on the pairs
        :meth:`_undominated` keeps, which leaves every :math:`f_t` unchanged.
        """
        cost, most, left = sizes
        deadline = time.perf_counter() + time_limit
        T = self.T
        wt = self.tech_weight[self.row_tech] * self.row_w
        top = np.array([self.tech_weight[k] * self.total_t[k] for k in range(T)])
        lines = [[] for _ in range(T)]  # (intercept, slope) of each Lagrangian bound
        ub_mip = [np.full(most[k] + 1, np.inf) for k in range(T)]
        lb = [np.full(most[k] + 1, -np.inf) for k in range(T)]
        sets: list[dict] = [{} for _ in range(T)]
        lp_done = [set() for _ in range(T)]
        heur_done = [set() for _ in range(T)]
        mip_done = [set() for _ in range(T)]

        def value(sel):
            return float(wt @ evaluate(SearchProblem(V=self.F), sel).b1)

        def record(k, sel):
            n = int((~self.pair_req[sel]).sum())
            if n <= most[k]:
                v = value(sel)
                if v > lb[k][n]:
                    lb[k][n] = v
                    sets[k][n] = sel

        relax: dict = {}  # technology -> (LP kept warm, model arrays, count row)
        cols = [self._undominated(k) for k in range(T)]

        def lp_bound(k, n, seconds):
            if k not in relax:
                milp, _, row = self._tech_milp(k, n, cols[k])
                relax[k] = (LpRelaxation(milp, verbose), milp.arrays(), row)
            lp, arrays, row = relax[k]
            out = lp.solve(seconds, row, float(n))
            if "row_dual" in out.info:
                lines[k].extend(_lagrangian_lines(arrays, out.info["row_dual"], row))

        for k in range(T):
            record(k, np.flatnonzero(self.pair_req & (self.pair_tech == k)))
            if start is not None:
                sel = np.asarray(start.selected, np.int64)
                sel = sel[self.pair_tech[sel] == k]
                record(k, sel)
                # first bounds at the start's station counts, where the optimum tends to be
                n = int((~self.pair_req[sel]).sum())
                lp_done[k].add(n)
                lp_bound(k, n, deadline - time.perf_counter())
        # station counts of every split within the budget
        grids = np.meshgrid(*[np.arange(n + 1) for n in most], indexing="ij")
        spend = sum(g * c for g, c in zip(grids, cost))
        ok = spend <= left + 1e-9 * max(1.0, abs(left))
        splits = np.stack([g[ok] for g in grids], axis=1)
        status = "time_limit"
        while True:
            ubs, lbs = [], []
            for k in range(T):
                u = np.full(most[k] + 1, top[k])
                kk = np.arange(most[k] + 1)
                for a, b in lines[k]:
                    u = np.minimum(u, a + b * kk)
                u = np.minimum(u, ub_mip[k])
                ubs.append(np.minimum.accumulate(u[::-1])[::-1])  # f_t is non-decreasing
                lbs.append(np.maximum.accumulate(lb[k]))
            U = sum(ubs[k][splits[:, k]] for k in range(T))
            L = sum(lbs[k][splits[:, k]] for k in range(T))
            iu, il = int(np.argmax(U)), int(np.argmax(L))
            bound, best = float(U[iu]), float(L[il])
            if bound - best <= mip_gap * max(abs(best), 1e-9) + 1e-9 * max(1.0, abs(best)):
                status = "optimal"
                break
            if time.perf_counter() >= deadline:
                break
            s_u, s_l = splits[iu], splits[il]
            left_s = deadline - time.perf_counter()
            log.debug("splits: bound %.6f at %s, best %.6f at %s, %.1f s left", bound, s_u.tolist(), best,
                      s_l.tolist(), left_s)
            # cheapest step first: an LP bound at the loosest split's counts, then a search at
            # the counts of the three loosest splits and of the best one, then a MILP at the
            # loosest split
            slack = np.array([ubs[k][s_u[k]] - max(lbs[k][s_u[k]], 0.0) for k in range(T)])
            todo = [k for k in np.argsort(-slack) if s_u[k] not in lp_done[k]]
            if todo:
                k = int(todo[0])
                lp_done[k].add(int(s_u[k]))
                lp_bound(k, int(s_u[k]), left_s)
                continue
            near = [splits[i] for i in np.argsort(-U)[:3]] + [s_l]
            todo = [(k, int(c[k])) for c in near for k in np.argsort(-slack) if c[k] not in heur_done[k]]
            if todo:
                k, n = todo[0]
                heur_done[k].add(n)
                record(k, self._tech_heuristic(k, n, min(0.2 * left_s, 10.0), cols[k]))
                continue
            todo = [k for k in np.argsort(-slack) if s_u[k] not in mip_done[k]]
            if not todo:
                break  # every part of the loosest split was solved as far as time allowed
            k = int(todo[0])
            n = int(s_u[k])
            mip_done[k].add(n)
            milp, x, _ = self._tech_milp(k, n, cols[k])
            have = [q for q in sets[k] if q <= n]
            st = None
            if have:
                known = sets[k][max(have, key=lambda q: lb[k][q])]
                if np.isin(known, cols[k]).all():  # a start using a left-out pair is not passed
                    vals = np.zeros(len(x))
                    vals[np.searchsorted(cols[k], known)] = 1.0
                    st = (x, vals)
            # each technology may leave a 1/(2T) share of the allowed gap, so a split of parts
            # solved this far is within mip_gap
            opts = {**_MIX_OPTIONS, "mip_abs_gap": mip_gap * max(best, 1e-9) / (2 * T)}
            out = milp.solve(left_s, mip_gap / 2, "off", start=st, verbose=verbose, options=opts)
            if out.x is not None:
                record(k, cols[k][out.x[x] > 0.5])
            if np.isfinite(out.bound):
                ub_mip[k][n] = min(ub_mip[k][n], out.bound)
        sel = np.concatenate([sets[k][int(np.argmax(lb[k][:splits[il, k] + 1]))] for k in range(T)])
        return Candidate(np.sort(sel), self._objective(sel), bound, status, f"{HIGHS_NAME} (per-technology splits)")

    def _no_solution_message(self) -> str:
        if any(t.target for t in self.techs):
            return self._target_message() + " (or none was found in the time limit)"
        return "technology mix: no feasible plan found within the time limit"

    # ------------------------------------------------------------------ evaluation
    def _coverage(self, selected):
        P = SearchProblem(V=self.F)
        st = evaluate(P, selected)
        return st

    def _objective(self, selected) -> float:
        st = self._coverage(selected)
        return float((self.tech_weight[self.row_tech] * self.row_w) @ st.b1)

    def _spent(self, selected) -> float:
        sel = np.asarray(selected, np.int64)
        g = self._site_cost_eff()
        new_sites = np.unique(self.pair_site[sel])
        return float(self.pair_cost[sel].sum() + g[new_sites].sum())

    def _result(self, cand, seconds):
        sel = np.sort(np.asarray(cand.selected, np.int64))
        st = self._coverage(sel)
        obj = float((self.tech_weight[self.row_tech] * self.row_w) @ st.b1)
        pairs = [(int(self.pair_site[q]), self.techs[self.pair_tech[q]].name) for q in sel]
        by_tech, new_by_tech, cov, share = {}, {}, {}, {}
        for k, t in enumerate(self.techs):
            q = sel[self.pair_tech[sel] == k]
            by_tech[t.name] = np.sort(self.pair_site[q])
            new_by_tech[t.name] = np.sort(self.pair_site[q[~self.pair_req[q]]])
            c = st.b1[self.row_offset[k]:self.row_offset[k + 1]]
            cov[t.name] = c
            share[t.name] = float(self.w_t[k] @ c / self.total_t[k]) if self.total_t[k] > 0 else float("nan")
        sites = np.unique(self.pair_site[sel])
        ids = np.asarray(self.site_ids)[sites] if self.site_ids is not None else None
        assign = np.where(st.a1 >= 0, self.pair_site[np.maximum(st.a1, 0)], -1)
        details = dict(budget=self.budget, n_stations=len(pairs),
                       n_new=int((~self.pair_req[sel]).sum()),
                       objective_by_tech={t.name: float(self.tech_weight[k] * self.w_t[k] @ cov[t.name])
                                          for k, t in enumerate(self.techs)},
                       targets={t.name: t.target for t in self.techs if t.target},
                       max_stations={t.name: int(t.max_stations) for t in self.techs
                                     if t.max_stations is not None})
        return MixResult(selected=sites, objective=obj, bound=float(cand.bound), status=cand.status,
                         solver=cand.solver, seconds=seconds, sense="max",
                         gap=relative_gap(obj, cand.bound), selected_ids=ids, assignment=assign,
                         covered=st.b1, details=details, pairs=pairs, selected_by_tech=by_tech,
                         new_by_tech=new_by_tech, covered_by_tech=cov, covered_share=share,
                         capex=self._spent(sel))


def _spacing_rows(milp: MilpModel, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Spacing conflicts ``(a, b)`` (positions in ``x``): one neighbourhood row per station that
    has later conflicting neighbours (see :class:`TechnologyMix`)."""
    if not a.size:
        return
    head, rest = np.minimum(a, b), np.maximum(a, b)
    heads, rid = np.unique(head, return_inverse=True)
    deg = np.bincount(rid, minlength=heads.size).astype(float)
    milp.add_rows(np.concatenate([np.arange(heads.size), rid]), np.concatenate([x[heads], x[rest]]),
                  np.concatenate([deg, np.ones(rest.size)]), heads.size, upper=deg)


def _lagrangian_lines(arrays: tuple, row_dual: np.ndarray, row: int) -> list[tuple[float, float]]:
    r"""Upper bounds ``a + b k`` on a maximisation model as a function of the right-hand side
    ``k`` of its row ``row``, from LP row duals.

    ``arrays`` is the model's :meth:`MilpModel.arrays`. Every row must be ``<=`` only (finite
    upper bound, no lower bound). For prices
    :math:`y \ge 0`, :math:`\max_{l \le v \le u} c^T v + y^T (b - A v)` bounds the model
    (weak duality), and it is linear in each right-hand side. Both signs of ``row_dual`` are
    tried, so HiGHS' sign convention does not matter (each choice gives a valid bound).
    """
    cost, lb, ub, _, A, rlo, rhi = arrays
    if np.any(np.isfinite(rlo)) or not np.all(np.isfinite(rhi)):
        raise ValueError("Lagrangian lines need <= rows only")
    out = []
    for sign in (1.0, -1.0):
        y = np.maximum(sign * row_dual, 0.0)
        red = cost - A.T @ y
        a = float(np.where(red > 0, red * ub, red * lb).sum() + y @ rhi - y[row] * rhi[row])
        out.append((a, float(y[row])))
    return out
