"""PV-storage operation: pvlib profile from first principles, dispatch against brute force, smart charging."""
import itertools
import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from scipy.optimize import linprog

from planner.errors import InputError
from planner.stations.defaults import DEFAULTS
from planner.stations.operation import (
    annuity_factor,
    charging_load,
    daily_profile_chart,
    dispatch,
    monthly_days,
    pv_profile,
    shift_flexible_load,
    smart_charging_effect,
    tou_prices,
)

LAT, LON = 39.795, 116.506  # Yizhuang


@pytest.fixture(scope="module")
def profile():
    return pv_profile(LAT, LON, 100.0)


def _noaa_sun(ts: pd.DatetimeIndex, lat, lon, tz_hours=8.0):
    """NOAA 'General Solar Position Calculations' (Spencer's Fourier series): zenith and azimuth, deg."""
    doy = ts.day_of_year.to_numpy()
    hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60
    g = 2 * np.pi / 365 * (doy - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g) - 0.014615 * np.cos(2 * g)
                       - 0.040849 * np.sin(2 * g))
    decl = (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
            + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))
    tst = hour * 60 + eqtime + 4 * lon - 60 * tz_hours
    ha = np.radians(tst / 4 - 180)
    phi = np.radians(lat)
    cosz = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(ha)
    zen = np.degrees(np.arccos(cosz))
    az = (np.degrees(np.arctan2(np.sin(ha), np.cos(ha) * np.sin(phi) - np.tan(decl) * np.cos(phi))) + 180) % 360
    return zen, az


def test_pv_profile_from_first_principles(profile):
    day = profile.loc["2025-06-21"]
    mid = day.index + pd.Timedelta(minutes=30)
    zen, az = _noaa_sun(mid, LAT, LON)
    up = zen < 80
    assert up.sum() >= 10
    np.testing.assert_allclose(day.zenith.to_numpy()[up], zen[up], atol=0.3)
    np.testing.assert_allclose(day.azimuth.to_numpy()[up], az[up], atol=0.5)
    # Spencer (1971) extraterrestrial irradiance, solar constant 1366.1 W/m² (pvlib's default)
    b = 2 * np.pi * mid.day_of_year.to_numpy() / 365
    i0 = 1366.1 * (1.00011 + 0.034221 * np.cos(b) + 0.00128 * np.sin(b) + 0.000719 * np.cos(2 * b)
                   + 0.000077 * np.sin(2 * b))
    np.testing.assert_allclose(day.dni_extra.to_numpy(), i0, rtol=1e-3)
    # Ineichen & Perez (2002) clear-sky GHI, Kasten & Young (1989) air mass, barometric pressure
    # at 35 m; the Linke turbidity is the climatology's value (input data, not re-derived)
    h = DEFAULTS.site_altitude_m
    zr = np.radians(zen)
    high = zen < 75  # refraction (ignored here) is below 0.1° above 15° elevation
    am = 1 / (np.cos(zr) + 0.50572 * np.clip(96.07995 - zen, 1, None) ** -1.6364) * (1 - 2.25577e-5 * h) ** 5.25588
    tl = day.linke_turbidity.to_numpy()
    cg1, cg2 = 5.09e-5 * h + 0.868, 3.92e-5 * h + 0.0387
    ghi = cg1 * i0 * np.cos(zr) * np.exp(-cg2 * am * (np.exp(-h / 8000) + np.exp(-h / 1250) * (tl - 1)))
    np.testing.assert_allclose(day.ghi.to_numpy()[high], ghi[high], rtol=0.02)
    assert 900 < day.ghi.max() < 1100  # midsummer noon clear sky at 40° N
    # isotropic plane of array on a 10° south-facing canopy from the clear-sky components
    tilt = np.radians(DEFAULTS.pv_tilt_deg)
    cos_aoi = np.cos(zr) * np.cos(tilt) + np.sin(zr) * np.sin(tilt) * np.cos(np.radians(az - 180))
    poa = (day.dni.to_numpy() * np.clip(cos_aoi, 0, None) + day.dhi.to_numpy() * (1 + np.cos(tilt)) / 2
           + day.ghi.to_numpy() * 0.2 * (1 - np.cos(tilt)) / 2)
    np.testing.assert_allclose(day.poa.to_numpy()[up], poa[up], rtol=0.01)


def test_pv_profile_scaled_to_cited_yield(profile):
    assert len(profile) == 8760
    assert profile.pv_kw.sum() == pytest.approx(100 * 1010.0)
    ratio = profile.pv_kw / profile.poa.where(profile.poa > 0)
    assert ratio.dropna().std() < 1e-9  # same shape as the plane-of-array irradiance
    assert (profile.pv_kw[profile.zenith > 91] == 0).all()
    days, w = monthly_days(profile.pv_kw)
    assert days.shape == (12, 24) and w.sum() == 365
    assert (days * w[:, None]).sum() == pytest.approx(profile.pv_kw.sum())


def _brute_force(load, pv, price, xprice, e_kwh, p_kw, levels, glim=np.inf):
    """Exhaustive over every cyclic state-of-charge path on a grid (round trip 1): min daily cost."""
    s = np.array(list(itertools.product(levels, repeat=len(load))))  # every path, one per row
    delta = s - np.roll(s, 1, axis=1)
    c, q = np.maximum(delta, 0), np.maximum(-delta, 0)
    net = load - pv + c - q
    g = np.maximum(net, 0)
    surplus = np.maximum(-net, 0)
    e = np.where(xprice > 0, np.minimum(surplus, pv + q), 0.0)
    ok = ((np.abs(delta) <= p_kw + 1e-9).all(axis=1) & (surplus - e <= pv + 1e-9).all(axis=1)  # curtail ≤ PV
          & (g <= glim + 1e-9).all(axis=1) & (e <= glim + 1e-9).all(axis=1))
    return float((g * price - e * xprice).sum(axis=1)[ok].min())


DAY_LOAD = np.array([3.0, 1.0, 0.0, 4.0, 2.0])
DAY_PV = np.array([0.0, 2.0, 3.0, 1.0, 0.0])
DAY_PRICE = np.array([0.4, 0.4, 0.7, 0.9, 0.9])
LOSSLESS = replace(DEFAULTS, battery_roundtrip=1.0, battery_hours=2.0)


@pytest.mark.parametrize("e_kwh, xprice", [(0.0, 0.0), (2.0, 0.0), (3.0, 0.0), (2.0, 0.8)])
def test_dispatch_matches_brute_force(e_kwh, xprice):
    xp = np.where(DAY_PRICE > 0.8, xprice, 0.0)
    r = dispatch(DAY_LOAD, DAY_PV, DAY_PRICE, battery_kwh=e_kwh, export_price=xp, grid_limit_kw=10, d=LOSSLESS)
    bf = _brute_force(DAY_LOAD, DAY_PV, DAY_PRICE, xp, e_kwh, e_kwh / 2, np.arange(0, e_kwh + 0.01, 0.5), glim=10)
    assert r.energy_cost_yuan - r.export_revenue_yuan == pytest.approx(bf, abs=1e-6)
    # energy balance and limits hold hour by hour
    bal = DAY_PV - r.curtail + r.grid_import + r.discharge - DAY_LOAD - r.charge - r.grid_export
    assert np.abs(bal).max() < 1e-6 and r.soc.max() <= e_kwh + 1e-6
    assert (np.minimum(r.grid_import, r.grid_export) < 1e-6).all()


def test_dispatch_with_losses_against_independent_lp():
    """Same day with a 90 % round trip: an LP written here on net battery flows (energy in/out
    split into charge-from-grid and charge-from-PV) must give the same optimum."""
    d = replace(DEFAULTS, battery_roundtrip=0.81, battery_hours=1.0)
    e_kwh, n = 2.0, len(DAY_LOAD)
    r = dispatch(DAY_LOAD, DAY_PV, DAY_PRICE, battery_kwh=e_kwh, d=d)
    # variables: cg (grid→battery), cp (pv→battery), q (battery→load), s (soc end of hour)
    # grid import = load − min(load, pv_used) … written as g = load − pvl − q + cg with pvl ≤ pv − cp
    # vars: cg, cp, q, pvl, s  (5n); cost = price·(load − pvl − q + cg)
    cost = np.concatenate([DAY_PRICE, np.zeros(n), -DAY_PRICE, -DAY_PRICE, np.zeros(n)])
    a_ub, b_ub, a_eq, b_eq = [], [], [], []
    for t in range(n):
        row = np.zeros(5 * n); row[n + t] = 1; row[3 * n + t] = 1; a_ub.append(row); b_ub.append(DAY_PV[t])  # cp + pvl ≤ pv
        row = np.zeros(5 * n); row[3 * n + t] = 1; row[2 * n + t] = 1; a_ub.append(row); b_ub.append(DAY_LOAD[t])  # pvl + q ≤ load
        row = np.zeros(5 * n); row[t] = 1; row[n + t] = 1; a_ub.append(row); b_ub.append(e_kwh)  # charge ≤ P
        row = np.zeros(5 * n); row[4 * n + t] = 1; row[4 * n + (t - 1) % n] = -1
        row[t] = row[n + t] = -0.9; row[2 * n + t] = 1 / 0.9; a_eq.append(row); b_eq.append(0.0)
    bounds = [(0, None)] * (2 * n) + [(0, e_kwh)] * n + [(0, None)] * n + [(0, e_kwh)] * n
    ref = linprog(cost, A_ub=np.array(a_ub), b_ub=b_ub, A_eq=np.array(a_eq), b_eq=b_eq, bounds=bounds, method="highs")
    assert ref.status == 0
    assert r.energy_cost_yuan == pytest.approx(ref.fun + float(DAY_PRICE @ DAY_LOAD), abs=1e-6)


def test_battery_sizing_against_brute_force_over_sizes():
    w = np.array([365.0])
    d = replace(LOSSLESS, capex_per_kwh_wan=0.2)  # dear enough that the size is interior
    per_kwh = 0.2e4 * annuity_factor(d.discount_rate, d.battery_life_years)
    r = dispatch(DAY_LOAD, DAY_PV, DAY_PRICE, weights=w, max_battery_kwh=4.0, grid_limit_kw=10, d=d)
    total = r.energy_cost_yuan + r.battery_annual_cost_yuan
    grid = [(e, 365 * _brute_force(DAY_LOAD, DAY_PV, DAY_PRICE, np.zeros(5), e, e / 2,
                                   np.arange(0, e + 0.01, 0.5), glim=10) + e * per_kwh)
            for e in np.arange(0, 4.01, 0.5)]
    best_e, best = min(grid, key=lambda x: x[1])
    assert total <= best + 1e-6
    assert total == pytest.approx(best, rel=1e-6)
    assert r.battery_kwh == pytest.approx(best_e) and 0 < best_e < 4


def test_dispatch_respects_grid_limit_and_reports_infeasible():
    load = charging_load(300.0)
    price = tou_prices()[5]
    r = dispatch(load, np.zeros(24), price, battery_kwh=0.0, grid_limit_kw=1e4)
    assert r.peak_grid_kw_with_storage == pytest.approx(load.max())
    with pytest.raises(Exception, match="grid limit"):
        dispatch(load, np.zeros(24), price, battery_kwh=0.0, grid_limit_kw=load.max() / 2)


def test_tou_prices_follow_section_8():
    p = tou_prices()
    assert p.shape == (12, 24)
    assert p[3, 10] == DEFAULTS.price_peak and p[3, 8] == DEFAULTS.price_flat and p[3, 2] == DEFAULTS.price_valley
    assert p[6, 11] == DEFAULTS.price_critical and p[0, 19] == DEFAULTS.price_critical and p[3, 19] == DEFAULTS.price_peak
    # 8 h each of peak, flat and valley on a month without critical peak
    assert sorted(np.unique(p[3], return_counts=True)[1]) == [8, 8, 8]


def test_smart_charging_water_filling_matches_min_peak_lp():
    load = charging_load(300.0)
    valley = np.isin(np.arange(24), DEFAULTS.valley_hours)
    out = shift_flexible_load(load, 0.3, valley, cap_kw=2000)
    assert out.sum() == pytest.approx(load.sum())
    assert np.allclose(out[~valley], 0.7 * load[~valley])
    # reference: LP minimising the highest valley-hour load when placing the same energy
    idx = np.flatnonzero(valley)
    k = len(idx)
    cost = np.r_[np.zeros(k), 1.0]
    a_ub = np.hstack([np.eye(k), -np.ones((k, 1))])
    ref = linprog(cost, A_ub=a_ub, b_ub=-0.7 * load[idx], A_eq=np.r_[np.ones(k), 0.0][None],
                  b_eq=[0.3 * load.sum()], bounds=[(0, 2000 - 0.7 * x) for x in load[idx]] + [(None, None)],
                  method="highs")
    assert out[idx].max() == pytest.approx(ref.x[-1], rel=1e-6)
    eff = smart_charging_effect(load, 0.3, valley, cap_kw=2000)
    assert eff["peak_kw_after"] <= eff["peak_kw_before"] and eff["kva_after"] <= eff["kva_before"]
    with pytest.raises(InputError, match="flexible share"):
        shift_flexible_load(load, 1.5, valley)


def test_daily_profile_chart_draws_four_series(tmp_path):
    r = dispatch(DAY_LOAD, DAY_PV, DAY_PRICE, battery_kwh=2.0, d=LOSSLESS)
    fig = daily_profile_chart(r, 0, "光储充放 station")
    ax = fig.axes[0]
    assert len(ax.get_legend().get_texts()) == 4
    with warnings.catch_warnings():
        if any("WenQuanYi" in f.name for f in font_manager.fontManager.ttflist):
            warnings.simplefilter("error")  # a missing CJK glyph would warn
        fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert math.isfinite(r.self_consumption_share)
