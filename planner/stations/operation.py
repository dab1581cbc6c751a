"""PV-storage-charging (光储充放) operation: hourly PV, charging load, TOU tariff, battery dispatch.

* :func:`pv_profile` — hourly PV output of a year at a site with pvlib: solar position (NREL
  SPA), Ineichen clear-sky irradiance with pvlib's bundled Linke-turbidity climatology, plane of
  array on the canopy (isotropic sky), then **scaled** so the year sums to ``kWp × specific
  yield`` (parameters.md §5 ~1,010 kWh/kWp, Yizhuang). The scaling stands in for clouds and
  system losses uniformly: the shape is clear-sky, the total is the cited yield.
* :func:`charging_load` — hourly station draw from daily sessions × arrival profile × kWh.
* :func:`tou_prices` — Beijing C&I time-of-use prices per (month, hour), §8.
* :func:`dispatch` — hourly linear programme (HiGHS through :class:`planner.siting.MilpModel`; binaries
  only when export is on, so an hour either imports or exports) on
  12 representative days (monthly mean PV), each weighted by its days: grid import/export,
  battery charge/discharge/state of charge and PV curtailment minimising the annual energy bill
  (minus export revenue) **plus** the annualised battery cost when the battery is sized by the
  LP, within the transformer's real-power limit.
* :func:`shift_flexible_load` / :func:`smart_charging_effect` — smart ordered charging
  (智能有序充电): a flexible share of the energy moved into valley or solar hours.
* :func:`daily_profile_chart` — load, PV, battery and grid over a day (matplotlib).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._charts import font_rc
from planner.errors import InputError, SolverError
from planner.siting import MilpModel

from .defaults import DEFAULTS, SizingDefaults
from .sizing import standard_kva

__all__ = [
    "pv_profile",
    "monthly_days",
    "charging_load",
    "tou_prices",
    "annuity_factor",
    "DispatchResult",
    "dispatch",
    "shift_flexible_load",
    "smart_charging_effect",
    "daily_profile_chart",
]

TZ = "Asia/Shanghai"


def pv_profile(lat: float, lon: float, kwp: float, d: SizingDefaults = DEFAULTS) -> pd.DataFrame:
    """Hourly PV output (kW, hour mean) of ``kwp`` at (``lat``, ``lon``) for ``d.pv_year``.

    Returns
    -------
    DataFrame
        Indexed by the hour's start (Asia/Shanghai); ``zenith``, ``apparent_zenith``, ``azimuth``
        (deg, at mid-hour), ``dni_extra``, ``ghi``, ``dni``, ``dhi`` (clear-sky, W/m²),
        ``linke_turbidity``, ``poa`` (W/m² on the canopy) and ``pv_kw``; ``pv_kw`` sums to
        ``kwp × d.specific_yield_kwh_per_kwp`` over the year.
    """
    import pvlib

    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"site coordinates out of range: lat={lat}, lon={lon}")
    if not (kwp >= 0):
        raise InputError(f"PV kWp must be >= 0, got {kwp}")
    start = pd.Timestamp(f"{d.pv_year}-01-01", tz=TZ)
    hours = pd.date_range(start, start + pd.DateOffset(years=1), freq="h", inclusive="left")
    mid = hours + pd.Timedelta(minutes=30)
    loc = pvlib.location.Location(lat, lon, tz=TZ, altitude=d.site_altitude_m)
    sol = loc.get_solarposition(mid)
    tl = pvlib.clearsky.lookup_linke_turbidity(mid, lat, lon)
    cs = loc.get_clearsky(mid, model="ineichen", solar_position=sol, linke_turbidity=tl)
    extra = pvlib.irradiance.get_extra_radiation(mid)
    poa = pvlib.irradiance.get_total_irradiance(
        d.pv_tilt_deg, d.pv_azimuth_deg, sol["apparent_zenith"], sol["azimuth"], cs["dni"], cs["ghi"], cs["dhi"],
        dni_extra=extra, albedo=d.albedo, model="isotropic")["poa_global"].clip(lower=0).fillna(0.0)
    total = float(poa.sum())
    pv = poa.to_numpy() * (kwp * d.specific_yield_kwh_per_kwp / total) if total > 0 else np.zeros(len(poa))
    return pd.DataFrame({"zenith": sol["zenith"].to_numpy(), "apparent_zenith": sol["apparent_zenith"].to_numpy(),
                         "azimuth": sol["azimuth"].to_numpy(), "dni_extra": np.asarray(extra, float),
                         "ghi": cs["ghi"].to_numpy(), "dni": cs["dni"].to_numpy(), "dhi": cs["dhi"].to_numpy(),
                         "linke_turbidity": np.asarray(tl, float), "poa": poa.to_numpy(), "pv_kw": pv}, index=hours)


def monthly_days(hourly: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Twelve representative days: the monthly mean of each clock hour, and days per month.

    Returns ``(days × 24 array, weights)``; weights sum to the days of the year.
    """
    s = pd.Series(np.asarray(hourly, float), index=hourly.index)
    g = s.groupby([s.index.month, s.index.hour]).mean().unstack()
    w = s.groupby(s.index.month).size().to_numpy() / 24.0
    return g.to_numpy(), w


def charging_load(daily_sessions: float, d: SizingDefaults = DEFAULTS) -> np.ndarray:
    """Grid-side charging load per clock hour (kW, hour mean) of a station.

    ``daily_sessions × profile[h] × session_kwh / charger_efficiency`` — each session's energy in
    its arrival hour (sessions last minutes, parameters.md §9 "charge within 10 minutes").
    """
    p = np.asarray(d.arrival_profile, float)
    return daily_sessions * p / p.sum() * d.session_kwh / d.charger_efficiency


def tou_prices(d: SizingDefaults = DEFAULTS, months: Sequence[int] = tuple(range(1, 13))) -> np.ndarray:
    """Energy price (yuan/kWh) per (month, clock hour): §8 Beijing peak / flat / valley / critical."""
    out = np.full((len(months), 24), d.price_flat)
    out[:, list(d.peak_hours)] = d.price_peak
    out[:, list(d.valley_hours)] = d.price_valley
    critical = dict(d.critical_hours)
    for i, m in enumerate(months):
        hrs = critical.get(m, ())
        out[i, list(hrs)] = d.price_critical
    return out


def annuity_factor(rate: float, years: float) -> float:
    """Capital recovery factor: ``r / (1 - (1 + r)^-n)`` (``1 / n`` when ``r = 0``)."""
    return 1.0 / years if rate == 0 else rate / (1.0 - (1.0 + rate) ** -years)


@dataclass
class DispatchResult:
    """Hourly dispatch on representative days (arrays ``days × hours``) and its totals.

    Attributes
    ----------
    battery_kwh, battery_kw : float
        Battery energy and power (sized by the LP or given).
    grid_import, grid_export, charge, discharge, soc, curtail, load, pv, price : ndarray
        kW (hour means) / kWh for ``soc`` / yuan per kWh for ``price``.
    weights : ndarray
        Days each representative day stands for.
    energy_cost_yuan, export_revenue_yuan : float
        Annual (weighted) import bill and export revenue.
    cost_without_storage_yuan : float
        Annual bill with PV but no battery and no export.
    battery_annual_cost_yuan : float
        Annualised battery capex.
    peak_grid_kw_without_storage, peak_grid_kw_with_storage : float
        Highest hourly grid import.
    self_consumption_share : float
        Share of PV neither curtailed nor exported (exported PV = hourly export beyond battery
        discharge).
    """

    battery_kwh: float
    battery_kw: float
    grid_import: np.ndarray
    grid_export: np.ndarray
    charge: np.ndarray
    discharge: np.ndarray
    soc: np.ndarray
    curtail: np.ndarray
    load: np.ndarray
    pv: np.ndarray
    price: np.ndarray
    weights: np.ndarray
    energy_cost_yuan: float
    export_revenue_yuan: float
    cost_without_storage_yuan: float
    battery_annual_cost_yuan: float
    peak_grid_kw_without_storage: float
    peak_grid_kw_with_storage: float
    self_consumption_share: float


def dispatch(load: np.ndarray, pv: np.ndarray, price: np.ndarray, weights: np.ndarray | None = None,
             grid_limit_kw: float = np.inf, battery_kwh: float | None = None, max_battery_kwh: float = np.inf,
             export_price: float | np.ndarray = 0.0, d: SizingDefaults = DEFAULTS) -> DispatchResult:
    """Least-cost hourly dispatch of a PV + battery + charging station against the grid.

    Each representative day is cyclic (state of charge at its end = at its start). Balance per
    hour: ``pv − curtail + import + discharge = load + charge + export``; ``soc_t = soc_{t−1} +
    η·charge − discharge/η`` with ``η = √roundtrip``; ``soc ≤ E``, ``charge, discharge ≤ E /
    battery_hours``; ``import, export ≤ grid_limit_kw``; ``export ≤ pv + discharge``; export only
    when its price is positive (V2G / 放), and then one binary per hour keeps import and export
    apart (one meter nets them).

    Parameters
    ----------
    load, pv, price : array (days, hours) or (hours,)
        kW hour means and yuan/kWh.
    weights : array (days,), optional
        Days each row stands for (default 1 each).
    grid_limit_kw : float
        Transformer real-power limit (kVA × power factor).
    battery_kwh : float, optional
        Fixed battery energy; ``None`` = sized by the LP, trading the bill against
        ``capex_per_kwh × annuity_factor`` per kWh-year (up to ``max_battery_kwh``).
    export_price : float or array like ``price``
        yuan/kWh paid for energy fed to the grid.

    Raises
    ------
    SolverError
        The load cannot be met within the grid limit.
    """
    L = np.atleast_2d(np.asarray(load, float))
    P = np.broadcast_to(np.atleast_2d(np.asarray(pv, float)), L.shape)
    C = np.broadcast_to(np.atleast_2d(np.asarray(price, float)), L.shape)
    X = np.broadcast_to(np.atleast_2d(np.asarray(export_price, float)), L.shape)
    nd, nh = L.shape
    w = np.ones(nd) if weights is None else np.asarray(weights, float)
    if w.shape != (nd,):
        raise InputError(f"weights need one value per representative day ({nd}), got shape {w.shape}")
    for name, arr in (("load", L), ("pv", P), ("price", C)):
        if not np.isfinite(arr).all() or (name != "price" and (arr < 0).any()):
            raise InputError(f"dispatch {name} must be finite" + (" and >= 0" if name != "price" else ""))
    T = nd * nh
    eta = math.sqrt(d.battery_roundtrip)
    hrs = d.battery_hours
    size = battery_kwh is None
    # variable blocks: import g, export e, charge c, discharge q, soc s, curtail u, [E]
    G, E_, CH, DI, S, U = (np.arange(T) + k * T for k in range(6))
    n = 6 * T + 1
    ecol = 6 * T
    wt = np.repeat(w, nh)
    cost = np.zeros(n)
    cost[G] = wt * C.ravel()
    cost[E_] = -wt * X.ravel()
    annual_per_kwh = d.capex_per_kwh_wan * 1e4 * annuity_factor(d.discount_rate, d.battery_life_years)
    cost[ecol] = annual_per_kwh if size else 0.0
    eye = sp.identity(T, format="csr")
    # balance: g − e + q − c − u = load − pv
    a_bal = sp.hstack([eye, -eye, -eye, eye, sp.csr_matrix((T, T)), -eye, sp.csr_matrix((T, 1))])
    b_bal = (L - P).ravel()
    # soc: s_t − s_prev(t) − η c_t + q_t/η = 0, prev cyclic within each day
    t = np.arange(T)
    prev = (t // nh) * nh + (t % nh - 1) % nh
    shift = sp.csr_matrix((np.ones(T), (t, prev)), shape=(T, T))
    a_soc = sp.hstack([sp.csr_matrix((T, 2 * T)), -eta * eye, eye / eta, eye - shift, sp.csr_matrix((T, T + 1))])
    # capacity rows: s − E ≤ 0, c − E/h ≤ 0, q − E/h ≤ 0; export ≤ pv + q
    col = sp.csr_matrix(np.ones((T, 1)))
    z = sp.csr_matrix((T, T))
    a_ub = sp.vstack([
        sp.hstack([z, z, z, z, eye, z, -col]),
        sp.hstack([z, z, eye, z, z, z, -col / hrs]),
        sp.hstack([z, z, z, eye, z, z, -col / hrs]),
        sp.hstack([z, eye, z, -eye, z, z, sp.csr_matrix((T, 1))]),
    ]).tocsr()
    b_ub = np.concatenate([np.zeros(3 * T), P.ravel()])
    glim = float(grid_limit_kw)
    exp_on = X.ravel() > 0
    lb = np.zeros(n)
    ub = np.concatenate([np.full(T, glim), np.where(exp_on, glim, 0.0), np.full(3 * T, np.inf), P.ravel(),
                         [max_battery_kwh if size else battery_kwh]])
    if not size:
        lb[ecol] = battery_kwh
    a_eq = sp.vstack([a_bal, a_soc]).tocsr()
    b_eq = np.concatenate([b_bal, np.zeros(T)])
    model = MilpModel("min")
    cols = model.add_vars(n, cost, lb, ub)
    model.add_matrix_rows(a_ub, cols, upper=b_ub)
    model.add_matrix_rows(a_eq, cols, lower=b_eq, upper=b_eq)
    if exp_on.any():
        # one meter: an hour either imports or exports (binary z_t: g ≤ M(1 − z), e ≤ M z)
        if not np.isfinite(glim):
            raise InputError("discharge to the grid (export price > 0) needs a finite grid limit")
        hz = np.flatnonzero(exp_on)
        k = hz.size
        on = model.add_vars(k, 0.0, 0.0, 1.0, integer=True)
        rows = np.concatenate([np.arange(k), np.arange(k)])
        model.add_rows(rows, np.concatenate([G[hz], on]), np.concatenate([np.ones(k), np.full(k, glim)]), k,
                       upper=glim)
        model.add_rows(rows, np.concatenate([E_[hz], on]), np.concatenate([np.ones(k), np.full(k, -glim)]), k,
                       upper=0.0)
    # no time limit, as with scipy.optimize.milp before: the dispatch is solved to optimality
    out = model.solve(time_limit=np.inf, mip_gap=1e-6, presolve="on")
    if out.status != "optimal" or out.x is None:
        need = float(np.max(L - P))
        raise SolverError(f"battery dispatch found no solution ({out.raw_status or out.status}); the net load peaks "
                          f"at {need:.0f} kW against a grid limit of {glim:.0f} kW")
    x = out.x

    def blk(ix):
        return x[ix].reshape(nd, nh)

    g, e, c, q, s, u = (blk(ix) for ix in (G, E_, CH, DI, S, U))
    ekwh = float(x[ecol])
    net = np.maximum(L - P, 0.0)
    pv_sum = float((w[:, None] * P).sum())
    used = float((w[:, None] * (P - u - np.maximum(e - q, 0.0))).sum())  # exported PV = export beyond discharge
    return DispatchResult(
        battery_kwh=ekwh, battery_kw=ekwh / hrs, grid_import=g, grid_export=e, charge=c, discharge=q, soc=s,
        curtail=u, load=L, pv=np.array(P), price=np.array(C), weights=w,
        energy_cost_yuan=float((w[:, None] * C * g).sum()), export_revenue_yuan=float((w[:, None] * X * e).sum()),
        cost_without_storage_yuan=float((w[:, None] * C * net).sum()),
        battery_annual_cost_yuan=ekwh * annual_per_kwh,
        peak_grid_kw_without_storage=float(net.max()), peak_grid_kw_with_storage=float(g.max()),
        self_consumption_share=min(1.0, max(0.0, used / pv_sum)) if pv_sum > 0 else float("nan"))


def shift_flexible_load(load: np.ndarray, flexible_share: float, target: np.ndarray,
                        base: np.ndarray | None = None, cap_kw: float = np.inf) -> np.ndarray:
    """Move ``flexible_share`` of each day's energy into the ``target`` hours, lowest first.

    Smart ordered charging: the flexible part of every hour's load is taken out and refilled
    into the target hours (valley hours, or hours with PV) by water-filling on ``base``
    (the load that stays, minus PV when given as ``base``), which minimises the highest net load
    over the target hours; each hour's load stays within ``cap_kw`` (the plugs' power).

    Parameters
    ----------
    load : array (hours,) or (days, hours)
    flexible_share : float in [0, 1]
    target : bool array, hours (or days × hours)
    base : array like ``load``, optional
        Subtracted when levelling (e.g. PV output); default 0.
    """
    if not 0 <= flexible_share <= 1:
        raise InputError(f"flexible share must be in [0, 1], got {flexible_share}")
    L = np.atleast_2d(np.asarray(load, float))
    tg = np.broadcast_to(np.atleast_2d(np.asarray(target, bool)), L.shape)
    off = np.zeros_like(L) if base is None else np.broadcast_to(np.atleast_2d(np.asarray(base, float)), L.shape)
    out = (1 - flexible_share) * L
    for i in range(L.shape[0]):
        energy = flexible_share * L[i].sum()
        idx = np.flatnonzero(tg[i])
        if energy <= 0:
            continue
        if not len(idx):
            raise InputError("smart charging has no target hour to move load into")
        fixed = out[i, idx]
        lvl0 = fixed - off[i, idx]
        room = np.maximum(cap_kw - fixed, 0.0)
        if room.sum() < energy - 1e-9:
            raise InputError(f"the target hours cannot take {energy:.0f} kWh within {cap_kw:g} kW")

        def filled(level, lvl0=lvl0, room=room):
            return np.clip(level - lvl0, 0.0, room)

        lo, hi = float(lvl0.min()), float(lvl0.max() + energy)  # at hi one hour alone, or every cap, takes it all
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if filled(mid).sum() < energy else (lo, mid)
        add = filled(hi)
        out[i, idx] = fixed + add * (energy / add.sum())
    return out.reshape(np.shape(load)) if np.ndim(load) == 1 else out


def smart_charging_effect(load: np.ndarray, flexible_share: float, target: np.ndarray, pv: np.ndarray | None = None,
                          cap_kw: float = np.inf, d: SizingDefaults = DEFAULTS) -> dict:
    """Peak net grid kW and the transformer (standard kVA for that hourly peak) before / after shifting.

    Returns ``peak_kw_before``, ``peak_kw_after``, ``kva_before``, ``kva_after`` and ``load_after``.
    """
    L = np.asarray(load, float)
    pvv = np.zeros_like(L) if pv is None else np.broadcast_to(np.asarray(pv, float), L.shape)
    after = shift_flexible_load(L, flexible_share, target, base=pvv, cap_kw=cap_kw)
    before_peak = float(np.max(np.maximum(L - pvv, 0.0)))
    after_peak = float(np.max(np.maximum(after - pvv, 0.0)))
    return {"peak_kw_before": before_peak, "peak_kw_after": after_peak,
            "kva_before": standard_kva(before_peak / d.power_factor, d.transformer_sizes_kva),
            "kva_after": standard_kva(after_peak / d.power_factor, d.transformer_sizes_kva), "load_after": after}


def daily_profile_chart(result: DispatchResult, day: int = 0, title: str = ""):
    """Figure of one representative day: load, PV, battery (+ discharge / − charge) and grid (+ import / − export).

    Uses a CJK-capable font (WenQuanYi Micro Hei / Noto CJK) when installed, so Chinese titles render.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    with matplotlib.rc_context(font_rc()):
        fig = Figure(figsize=(8, 4), dpi=100)
        ax = fig.add_subplot()
        h = np.arange(result.load.shape[1])
        ax.plot(h, result.load[day], label="load 负荷", color="black", lw=2)
        ax.plot(h, result.pv[day] - result.curtail[day], label="PV 光伏", color="orange")
        ax.bar(h, result.discharge[day] - result.charge[day], label="battery 储能", color="tab:green", alpha=0.6)
        ax.step(h, result.grid_import[day] - result.grid_export[day], where="mid", label="grid 电网", color="tab:blue")
        ax.set_xlabel("hour 时")
        ax.set_ylabel("kW")
        ax.set_xticks(range(0, len(h), 3))
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title(title)
        fig.tight_layout()
    families = font_rc()["font.family"]
    for text in fig.findobj(Text):  # fonts fixed on the texts: savefig works outside the context
        text.set_fontfamily(families)
    return fig
