"""One row per station: sizes, operation and capex, and the ``siting/station_sizes.csv`` table.

* :func:`size_station` sizes one station of a kind (``"freight"`` hydrogen, ``"ev"`` high-power
  charging, ``"pv"`` PV-storage-charging) for the demand it serves.
* :func:`station_sizes_table` orders rows into :data:`STATION_SIZE_COLUMNS`.
* :func:`size_stations` sizes every selected station of a plan from plain tables;
  :func:`inputs_from_plan` builds those tables from a
  :class:`planner.stations.plan.StationPlan` (read only).
* :func:`candidate_capex` sizes every **candidate** for all the demand it could serve (every
  demand point / flow within its radius). That demand is an upper bound of what the candidate
  will serve once selected, so with per-candidate capex from here the siting budget holds on
  sized capex — as long as capex grows with demand, which holds for plugs, transformer and
  hydrogen class, not provably for the LP-sized battery: :func:`budget_check` re-checks the
  sized plan against the budget and warns. (The alternative, iterating selection ↔ sizing, is
  not implemented.)

Served demand in physical units: EV / PV demand weights are relative (POI scores), so a
station's daily sessions = its served share of the technology's demand × ``ev_sessions_per_day``
(a guess for the study area); freight flows carry trucks/day (the suppliers' daily deliveries).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from planner.errors import InputError

from .costs import CAPEX_COMPONENTS, STATION_KINDS, station_capex
from .defaults import DEFAULTS, SizingDefaults
from .operation import (
    DispatchResult,
    charging_load,
    dispatch,
    monthly_days,
    pv_profile,
    smart_charging_effect,
    tou_prices,
)
from .sizing import h2_kg_per_day, size_h2, size_hpc

__all__ = [
    "STATION_SIZE_COLUMNS",
    "pv_days_per_kwp",
    "monthly_days_weights",
    "size_station",
    "station_sizes_table",
    "size_stations",
    "inputs_from_plan",
    "could_serve",
    "candidate_capex",
    "candidate_capex_from_problem",
    "pv_battery_grid",
    "pv_candidate_capex_grid",
    "budget_check",
]

#: Columns of ``siting/station_sizes.csv`` (NaN where a column does not apply to the kind).
#: ``transformer_kva`` follows the §4 design rule (plugs × kW × simultaneity); the hourly
#: columns size a transformer for the highest hourly-mean grid draw of the annual mean day without
#: (``transformer_kva_hourly_peak``) and with smart ordered charging (``transformer_kva_smart``:
#: ``flexible_share`` moved into valley hours for ``ev``, into PV hours for ``pv``), i.e. a
#: station whose power is managed to that level.
STATION_SIZE_COLUMNS: tuple[str, ...] = (
    "site_id", "technology", "kind", "daily_sessions", "peak_arrivals_per_h", "mean_session_min", "plugs",
    "charger_kw", "p_wait", "transformer_kva", "h2_kg_day", "h2_class_kg_day", "h2_storage_kg", "h2_dispensers",
    "h2_grade", "pv_kwp", "pv_kwh_year", "storage_kwh", "storage_kw", "self_consumption_share",
    "peak_grid_kw_without_storage", "peak_grid_kw_with_storage", "transformer_kva_hourly_peak",
    "peak_grid_kw_smart", "transformer_kva_smart",
    "energy_cost_wan_year", "energy_revenue_wan_year",
    *(f"capex_{c}_wan" for c in CAPEX_COMPONENTS), "capex_wan", "capex_model",
)


@lru_cache(maxsize=64)
def _pv_days_cached(lat: float, lon: float, d: SizingDefaults) -> tuple[np.ndarray, np.ndarray]:
    days, w = monthly_days(pv_profile(lat, lon, 1.0, d)["pv_kw"])
    return days, w


def pv_days_per_kwp(lat: float, lon: float, d: SizingDefaults = DEFAULTS) -> tuple[np.ndarray, np.ndarray]:
    """Twelve representative PV days (kW per kWp, month × hour) and days per month at a site.

    Computed once per 0.1° cell (about 10 km; the Linke-turbidity climatology has a 1/12° grid and
    hourly clear-sky shapes change by minutes of solar time across a cell) and reused.
    """
    days, w = _pv_days_cached(round(float(lat), 1), round(float(lon), 1), d)
    return days.copy(), w.copy()


def _charging_rows(kind, sessions, d, headroom_kva, site_id, lat, lon, area_m2, pv_days, warnings):
    """Sizes and operation of a charging (``ev``) or PV-storage (``pv``) station."""
    row, w = size_hpc(sessions, d, headroom_kva, site_id)
    warnings += w
    load = charging_load(sessions, d)
    prices = tou_prices(d)
    grid_kw = row["transformer_kva"] * d.power_factor
    cap_kw = row["design_kw"] / d.charger_efficiency
    result = None
    if kind == "ev":
        days = monthly_days_weights(d) if pv_days is None else pv_days[1]
        cost = float((days[:, None] * prices * load).sum())
        row.update({"energy_cost_wan_year": cost / 1e4, "energy_revenue_wan_year": 0.0,
                    "peak_grid_kw_without_storage": float(load.max()), "peak_grid_kw_with_storage": float(load.max())})
        target = np.isin(np.arange(24), d.valley_hours)
        smart = smart_charging_effect(load, d.flexible_share, target, None, cap_kw, d)
    else:
        if not (area_m2 is not None and np.isfinite(area_m2) and area_m2 > 0):
            warnings.append(f"site {site_id}: no lot area; PV-storage station sized without PV")
            area_m2 = 0.0
        kwp = float(area_m2) * d.canopy_share * d.kwp_per_m2
        if pv_days is None:
            if not (np.isfinite(lat) and np.isfinite(lon)):
                raise InputError(f"site {site_id}: PV-storage sizing needs the site's lon/lat")
            pv_days = pv_days_per_kwp(lat, lon, d)
        shape, days = pv_days
        pv = shape * kwp
        result = dispatch(np.tile(load, (12, 1)), pv, prices, days, grid_limit_kw=grid_kw,
                          export_price=d.export_price, d=d)
        row.update({"pv_kwp": kwp, "pv_kwh_year": float((days[:, None] * pv).sum()),
                    "storage_kwh": result.battery_kwh, "storage_kw": result.battery_kw,
                    "self_consumption_share": result.self_consumption_share,
                    "peak_grid_kw_without_storage": result.peak_grid_kw_without_storage,
                    "peak_grid_kw_with_storage": result.peak_grid_kw_with_storage,
                    "energy_cost_wan_year": result.energy_cost_yuan / 1e4,
                    "energy_revenue_wan_year": result.export_revenue_yuan / 1e4})
        mean_pv = (days[:, None] * pv).sum(axis=0) / days.sum()
        target = mean_pv > 0 if mean_pv.max() > 0 else np.isin(np.arange(24), d.valley_hours)  # no PV: valley
        smart = smart_charging_effect(load, d.flexible_share, target, mean_pv, cap_kw, d)
        if row["peak_grid_kw_with_storage"] > row["peak_grid_kw_without_storage"] + 1e-6:
            warnings.append(f"site {site_id}: the least-cost battery charges in valley hours up to "
                            f"{row['peak_grid_kw_with_storage']:.0f} kW, above the "
                            f"{row['peak_grid_kw_without_storage']:.0f} kW peak without storage "
                            "(no demand charge is modelled)")
    row.update({"peak_grid_kw_smart": smart["peak_kw_after"], "transformer_kva_hourly_peak": smart["kva_before"],
                "transformer_kva_smart": smart["kva_after"]})
    return row, result


def monthly_days_weights(d: SizingDefaults = DEFAULTS) -> np.ndarray:
    """Days per month of ``d.pv_year`` (the weights of the twelve representative days)."""
    idx = pd.date_range(f"{d.pv_year}-01-01", f"{d.pv_year}-12-31", freq="D")
    return idx.month.value_counts().sort_index().to_numpy(float)


def size_station(kind: str, site_id: str, technology: str, *, daily_sessions: float = 0.0,
                 trucks_per_day=(), route_km=(), lat: float = float("nan"), lon: float = float("nan"),
                 area_m2: float | None = None, headroom_kva: float | None = None, capex_model: str = "sized",
                 flat_wan: float | None = None, d: SizingDefaults = DEFAULTS,
                 pv_days: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[dict, list[str], DispatchResult | None]:
    """Size one station for the demand it serves.

    Parameters
    ----------
    kind : {"freight", "ev", "pv"}
    daily_sessions : float
        Charging sessions per day (``ev``, ``pv``).
    trucks_per_day, route_km : array-like
        Served freight flows (``freight``): trucks per day and route km of each.
    lat, lon, area_m2, headroom_kva : float
        Site position (PV profile), lot area (PV kWp) and grid headroom (warning when exceeded).
    capex_model : {"flat", "sized"}
    flat_wan : float
        The technology's flat capex (needed for ``"flat"``).
    pv_days : (array, array), optional
        Representative PV days per kWp and their weights (default: computed at the site).

    Returns
    -------
    (dict, list of str, DispatchResult or None)
        One :data:`STATION_SIZE_COLUMNS` row, warnings, and the dispatch of a PV-storage station.
    """
    if kind not in STATION_KINDS:
        raise InputError(f"site {site_id}: unknown station kind '{kind}' (expected one of {', '.join(STATION_KINDS)})")
    warnings: list[str] = []
    result = None
    if kind == "freight":
        kg = h2_kg_per_day(trucks_per_day, route_km, d.h2_kg_per_100km, d.h2_legs_per_delivery)
        row, w = size_h2(kg, d, site_id)
        warnings += w
    else:
        row, result = _charging_rows(kind, daily_sessions, d, headroom_kva, site_id, lat, lon, area_m2, pv_days,
                                     warnings)
        row["daily_sessions"] = float(daily_sessions)
    row.update(station_capex(kind, row, capex_model, flat_wan, d))
    row.update({"site_id": site_id, "technology": technology, "kind": kind, "capex_model": capex_model})
    return row, warnings, result


def station_sizes_table(rows: list[dict]) -> pd.DataFrame:
    """Rows of :func:`size_station` as a table with exactly :data:`STATION_SIZE_COLUMNS`."""
    df = pd.DataFrame(rows)
    for c in STATION_SIZE_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    return df[list(STATION_SIZE_COLUMNS)]


def size_stations(selected: pd.DataFrame, kinds: dict, flat_capex: dict | None = None,
                  freight: pd.DataFrame | None = None, candidates: pd.DataFrame | None = None,
                  capex_model: str = "sized", d: SizingDefaults = DEFAULTS
                  ) -> tuple[pd.DataFrame, list[str], dict]:
    """Size every selected station of a station plan.

    Parameters
    ----------
    selected : DataFrame
        ``StationPlan.selected_sites()``: ``site_id``, ``technology``, ``lon``, ``lat``, ``share``
        (served share of the technology's demand).
    kinds : dict
        Technology name → ``"freight"`` / ``"ev"`` / ``"pv"`` (the technology's ``demand``).
    flat_capex : dict, optional
        Technology name → ``capex_wan`` (for ``capex_model="flat"``).
    freight : DataFrame, optional
        Served freight flows: ``site_id``, ``technology``, ``trucks_per_day``, ``route_km``.
    candidates : DataFrame, optional
        ``candidate_id``, ``area_m2``, ``headroom_kva`` of the sites.
    capex_model : {"flat", "sized"}

    Returns
    -------
    (DataFrame, list of str, dict)
        The :data:`STATION_SIZE_COLUMNS` table, warnings, and ``{site_id: DispatchResult}`` of
        the PV-storage stations (for :func:`planner.stations.operation.daily_profile_chart`).
    """
    need = {"site_id", "technology", "share", "lon", "lat"}
    miss = need - set(selected.columns)
    if miss:
        raise InputError(f"selected sites lack column(s) {', '.join(sorted(miss))}", column=sorted(miss)[0])
    cand = (candidates.set_index("candidate_id") if candidates is not None and len(candidates)
            else pd.DataFrame(columns=["area_m2", "headroom_kva"]))
    rows, warnings, dispatches = [], [], {}
    for r in selected.itertuples(index=False):
        t, sid = r.technology, str(r.site_id)
        if t not in kinds:
            raise InputError(f"site {sid}: technology '{t}' has no kind (freight / ev / pv)", column="technology")
        kind = kinds[t]
        extra = {}
        if kind == "freight":
            f = (freight[(freight.site_id.astype(str) == sid) & (freight.technology == t)]
                 if freight is not None else pd.DataFrame(columns=["trucks_per_day", "route_km"]))
            if freight is None:
                warnings.append(f"site {sid}: no served freight flows given; hydrogen demand taken as 0")
            extra = {"trucks_per_day": f.trucks_per_day.to_numpy(float), "route_km": f.route_km.to_numpy(float)}
        else:
            extra = {"daily_sessions": float(r.share) * d.ev_sessions_per_day if np.isfinite(r.share) else 0.0}
        area = float(cand.at[sid, "area_m2"]) if sid in cand.index and "area_m2" in cand else None
        head = float(cand.at[sid, "headroom_kva"]) if sid in cand.index and "headroom_kva" in cand else None
        row, w, res = size_station(kind, sid, t, lat=float(r.lat), lon=float(r.lon), area_m2=area,
                                   headroom_kva=head, capex_model=capex_model,
                                   flat_wan=(flat_capex or {}).get(t), d=d, **extra)
        rows.append(row)
        warnings += w
        if res is not None:
            dispatches[sid] = res
    return station_sizes_table(rows), warnings, dispatches


def _nearest_within(minutes: np.ndarray, radius: float) -> np.ndarray:
    """Per demand row, the column with the fewest minutes within ``radius`` (−1 when none)."""
    within = minutes <= radius
    best = np.where(within, minutes, np.inf).argmin(axis=1) if minutes.shape[1] else np.zeros(len(minutes), int)
    return np.where(within.any(axis=1), best, -1) if minutes.shape[1] else np.full(len(minutes), -1)


def inputs_from_plan(plan, d: SizingDefaults = DEFAULTS) -> dict:
    """Arguments of :func:`size_stations` from a solved ``StationPlan`` (read only).

    Freight flows are assigned to the selected station with the smallest detour within the
    radius (the rule of ``StationPlan.selected_sites``); a flow's route km is its truck minutes ×
    ``h2_truck_speed_kmh`` / 60 (a guess: the plan stores minutes, not km).

    Returns
    -------
    dict
        ``selected``, ``kinds``, ``flat_capex``, ``freight``, ``candidates``.
    """
    prob = plan.problem
    sel = pd.DataFrame(plan.selected_sites().drop(columns="geometry"))
    kinds = {t: spec.demand for t, spec in prob.technologies.items()}
    flat = {t: spec.capex_wan for t, spec in prob.technologies.items()}
    ids = prob.candidates.candidate_id.to_numpy()
    frames = []
    for t, spec in prob.technologies.items():
        if spec.demand != "freight":
            continue
        sites = np.asarray(plan.result.selected_by_tech.get(t, []), np.int64)
        dem = prob.demand[t]
        best = _nearest_within(prob.minutes[t][:, sites], spec.radius_min)
        ok = best >= 0
        frames.append(pd.DataFrame({
            "site_id": ids[sites][best[ok]], "technology": t, "flow_id": dem.demand_id.to_numpy()[ok],
            "trucks_per_day": dem.raw_weight.to_numpy(float)[ok],
            "route_km": dem.flow_minutes.to_numpy(float)[ok] * d.h2_truck_speed_kmh / 60.0}))
    freight = pd.concat(frames, ignore_index=True) if frames else None
    cands = pd.DataFrame({"candidate_id": ids,
                          "area_m2": _column(prob.candidates, "area_m2"),
                          "headroom_kva": _column(prob.candidates, "headroom_kva")})
    return {"selected": sel, "kinds": kinds, "flat_capex": flat, "freight": freight, "candidates": cands}


def could_serve(minutes: np.ndarray, radius: float, values) -> np.ndarray:
    """Per candidate (column), the sum of ``values`` over demand rows within ``radius`` minutes."""
    m = np.asarray(minutes, float)
    v = np.asarray(values, float)
    if m.shape[0] != v.shape[0]:
        raise InputError(f"{v.shape[0]} demand values for {m.shape[0]} demand rows")
    return (m <= radius).T.astype(float) @ v


def pv_battery_grid(sessions_levels, area_levels, pv_days: tuple[np.ndarray, np.ndarray],
                    d: SizingDefaults = DEFAULTS) -> np.ndarray:
    """Battery kWh of a PV-storage station sized by the dispatch LP on a grid of daily sessions ×
    lot area (m²), for one set of representative PV days; rows = sessions, columns = areas."""
    out = np.zeros((len(sessions_levels), len(area_levels)))
    for i, s in enumerate(sessions_levels):
        for j, a in enumerate(area_levels):
            row, _, _ = size_station("pv", "grid", "pv", daily_sessions=float(s), area_m2=float(a), d=d,
                                     pv_days=pv_days)
            out[i, j] = row["storage_kwh"]
    return out


def _levels(values: np.ndarray, n: int) -> np.ndarray:
    """0 and ``n - 1`` geometric levels spanning the positive ``values`` (at least 1)."""
    pos = values[values > 0]
    if not len(pos):
        return np.array([0.0])
    lo, hi = max(float(pos.min()), 1.0), max(float(pos.max()), 1.0)
    return np.unique(np.r_[0.0, np.geomspace(lo, hi, max(n - 1, 1)) if hi > lo else [hi]])


def pv_candidate_capex_grid(sessions, area_m2, lat, lon, d: SizingDefaults = DEFAULTS,
                            levels: int = 7) -> tuple[np.ndarray, dict]:
    """Sized capex (万元) of PV-storage candidates without one battery LP per candidate.

    Plugs, transformer, PV kWp and the fixed part are sized exactly per candidate; the battery
    kWh (the only part that needs the dispatch LP) is interpolated bilinearly on a grid of 0 and
    ``levels − 1`` geometric levels per axis (daily sessions × lot area) spanning the candidates'
    values (the least-cost battery is close to linear in the charging energy), solved once with
    the representative PV days at the candidates' mean position (the clear-sky shape changes by
    minutes of solar time across a district). An estimate: the
    selected stations are re-sized exactly and checked against the budget
    (:func:`budget_check`).

    Returns
    -------
    (ndarray, dict)
        Capex per candidate and the grid (``sessions_levels``, ``area_levels``, ``lps``).
    """
    from scipy.interpolate import RegularGridInterpolator

    s = np.asarray(sessions, float)
    a = np.nan_to_num(np.asarray(area_m2, float), nan=0.0)
    out = np.zeros(len(s))
    if not len(s):
        return out, {"sessions_levels": [], "area_levels": [], "lps": 0}
    sl, al = _levels(s, levels), _levels(a, levels)
    days = pv_days_per_kwp(float(np.nanmean(lat)), float(np.nanmean(lon)), d)
    grid = pv_battery_grid(sl, al, days, d)
    if len(sl) > 1 and len(al) > 1:
        kwh = RegularGridInterpolator((sl, al), grid)(np.column_stack([s, a]))
    else:  # one level on an axis: interpolate along the other
        kwh = np.interp(s if len(al) == 1 else a, sl if len(al) == 1 else al, grid.ravel())
    for j in range(len(s)):
        row, _ = size_hpc(float(s[j]), d)
        row.update({"pv_kwp": a[j] * d.canopy_share * d.kwp_per_m2, "storage_kwh": float(kwh[j])})
        out[j] = station_capex("pv", row, "sized", d=d)["capex_wan"]
    return out, {"sessions_levels": sl.tolist(), "area_levels": al.tolist(), "lps": int(grid.size)}


def candidate_capex(kind: str, could: np.ndarray, lat=None, lon=None, area_m2=None, d: SizingDefaults = DEFAULTS,
                    eligible: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Sized capex (万元) of every candidate for all the demand it could serve.

    Parameters
    ----------
    kind : {"freight", "ev", "pv"}
    could : array (n_candidates,)
        From :func:`could_serve`: for ``freight`` Σ trucks/day × route km of the flows within the
        detour; for ``ev`` / ``pv`` the share of the technology's (normalised) demand within the
        radius.
    lat, lon, area_m2 : arrays, optional
        Needed for ``pv`` (PV profile per 0.1° cell, kWp from the area).
    eligible : bool array, optional
        Candidates to size (others get NaN); sizing a PV-storage candidate solves its battery LP
        (about 0.1–0.3 s), so pass the eligibility mask.

    Returns
    -------
    (ndarray, list of str)
        Capex per candidate and the sizing warnings.
    """
    c = np.asarray(could, float)
    n = len(c)
    mask = np.ones(n, bool) if eligible is None else np.asarray(eligible, bool)
    out = np.full(n, np.nan)
    warnings: list[str] = []
    for j in np.flatnonzero(mask):
        if kind == "freight":
            row, w, _ = size_station(kind, str(j), kind, trucks_per_day=[c[j]], route_km=[1.0], d=d)
        else:
            row, w, _ = size_station(kind, str(j), kind, daily_sessions=c[j] * d.ev_sessions_per_day,
                                     lat=float(lat[j]) if lat is not None else math.nan,
                                     lon=float(lon[j]) if lon is not None else math.nan,
                                     area_m2=float(area_m2[j]) if area_m2 is not None else None, d=d)
        out[j] = row["capex_wan"]
        warnings += [x for x in w if "serves no" not in x]
    return out, warnings


def candidate_capex_from_problem(problem, d: SizingDefaults = DEFAULTS, pv_levels: int | None = None
                                 ) -> tuple[dict, list[str]]:
    """Per technology, the sized capex of every candidate of a ``SitingProblem`` (read only).

    Demand it could serve: for ``ev`` / ``pv`` the normalised ``weight`` of the demand within the
    radius; for ``freight`` Σ trucks/day × route km (``flow_minutes`` × ``h2_truck_speed_kmh`` / 60)
    of the flows within the detour. Ineligible candidates get 0 (the model has no variable for
    them), so the arrays can be the ``capex`` of :class:`planner.siting.mix.TechnologyData` directly.

    ``pv_levels``: size PV-storage candidates with :func:`pv_candidate_capex_grid` on a
    ``pv_levels`` × ``pv_levels`` grid (``pv_levels²`` battery LPs in all) instead of one
    battery LP per candidate (``None``).

    Returns
    -------
    (dict, list of str)
        ``{technology: capex array (万元)}`` and sizing warnings.
    """
    c = problem.candidates
    out, warnings = {}, []
    for t, spec in problem.technologies.items():
        kind = spec.demand
        dem = problem.demand[t]
        if kind == "freight":
            values = dem.raw_weight.to_numpy(float) * dem.flow_minutes.to_numpy(float) * d.h2_truck_speed_kmh / 60.0
        else:
            values = dem.weight.to_numpy(float)
        could = could_serve(problem.minutes[t], spec.radius_min, values)
        elig = c[f"eligible_{t}"].to_numpy(bool) | c[f"required_{t}"].to_numpy(bool)
        area = c["area_m2"].to_numpy(float) if "area_m2" in c else None
        if kind == "pv" and pv_levels:
            cap, w = np.full(len(c), np.nan), list[str]()
            sub = np.flatnonzero(elig)
            cap[sub] = pv_candidate_capex_grid(could[sub] * d.ev_sessions_per_day,
                                               area[sub] if area is not None else np.zeros(len(sub)),
                                               c.lat.to_numpy(float)[sub], c.lon.to_numpy(float)[sub], d,
                                               pv_levels)[0]
        else:
            cap, w = candidate_capex(kind, could, c.lat.to_numpy(float), c.lon.to_numpy(float), area, d, elig)
        out[t] = np.where(np.isnan(cap), 0.0, cap)
        warnings += [f"{t}: {x}" for x in w]
    return out, warnings


def budget_check(table: pd.DataFrame, budget_wan: float) -> list[str]:
    """A warning when the stations' total capex exceeds ``budget_wan`` (empty list otherwise)."""
    total = float(table["capex_wan"].sum())
    if total > budget_wan + 1e-6:
        return [f"sized capex {total:,.0f} 万元 exceeds the budget {budget_wan:,.0f} 万元"]
    return []


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A float column of ``frame``, NaN where the frame has none."""
    return frame[name].to_numpy(float) if name in frame else np.full(len(frame), np.nan)
