"""Size high-power charging and hydrogen stations from the demand they serve.

* **High-power charging** (HPC): daily sessions × an hourly arrival profile gives the peak-hour
  arrival rate; a session lasts ``session_kwh / (charger_kw × mean_power_share)`` hours plus a
  handling time; the number of plugs is the smallest ``c`` of an M/M/c queue (Erlang C) with
  ``P(wait > max_wait_min) <= max_p_wait`` at the peak hour; the transformer follows the
  parameters.md §4 rule of thumb ``kVA = plugs × kW × simultaneity / (power factor × efficiency)``
  (at least one plug at full power), rounded up to a standard rating, and is checked against
  the candidate's grid headroom.
* **Hydrogen**: kg/day = Σ trucks/day × route km × legs × kg/100 km / 100 (§6); the station
  class is the smallest of 500 / 1,000 kg/d (§3) that carries it; storage = class × storage days
  (§13 Wuhan); dispensers = class / 600 kg/d (§13 Daxing, derived); GB 50516 storage grade (§13).

Every default is in :class:`planner.stations.defaults.SizingDefaults` with its source. Functions
are pure and return values plus a list of warning strings.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln, logsumexp

from planner.errors import InputError

from .defaults import DEFAULTS, SizingDefaults

__all__ = [
    "erlang_c",
    "p_wait_longer",
    "session_minutes",
    "peak_arrivals_per_hour",
    "plugs_for_target",
    "transformer_kva",
    "standard_kva",
    "size_hpc",
    "h2_kg_per_day",
    "size_h2",
]


def erlang_c(servers: int, offered_erlangs: float) -> float:
    """Erlang C: probability that an arrival waits in an M/M/c queue.

    ``C(c, a) = [a^c/c! · c/(c-a)] / [Σ_{k<c} a^k/k! + a^c/c! · c/(c-a)]``, evaluated in log
    space (stable for hundreds of servers). 1.0 when ``a >= c`` (the queue grows without bound).

    Parameters
    ----------
    servers : int
        Number of servers (plugs) ``c >= 1``.
    offered_erlangs : float
        Offered load ``a = λ / μ`` (arrivals per hour × mean service hours), ``>= 0``.
    """
    c, a = int(servers), float(offered_erlangs)
    if c < 1 or not (a >= 0) or not math.isfinite(a):
        raise InputError(f"Erlang C needs servers >= 1 and a finite load >= 0, got c={servers}, a={offered_erlangs}")
    if a == 0:
        return 0.0
    if a >= c:
        return 1.0
    k = np.arange(c)
    log_terms = k * math.log(a) - gammaln(k + 1)
    log_top = c * math.log(a) - gammaln(c + 1) + math.log(c / (c - a))
    return float(math.exp(log_top - logsumexp(np.append(log_terms, log_top))))


def p_wait_longer(servers: int, arrivals_per_h: float, service_min: float, wait_min: float) -> float:
    """``P(wait > wait_min)`` in an M/M/c FIFO queue: ``C(c, a) · exp(-(c - a) · wait / service)``."""
    a = arrivals_per_h * service_min / 60.0
    pc = erlang_c(servers, a)
    if pc >= 1.0:
        return 1.0
    return float(pc * math.exp(-(servers - a) * wait_min / service_min))


def session_minutes(d: SizingDefaults = DEFAULTS) -> float:
    """Mean minutes a plug is occupied: ``session_kwh / (charger_kw × mean_power_share) + handling``."""
    return d.session_kwh / (d.charger_kw * d.mean_power_share) * 60.0 + d.handling_min


def peak_arrivals_per_hour(daily_sessions: float, profile: Sequence[float]) -> float:
    """Arrivals in the busiest hour: ``daily_sessions × max(profile)`` (profile normalised to sum 1)."""
    p = np.asarray(profile, float)
    if p.shape != (24,) or (p < 0).any() or p.sum() <= 0:
        raise InputError("the hourly arrival profile needs 24 non-negative shares with a positive sum")
    return float(daily_sessions * p.max() / p.sum())


def plugs_for_target(arrivals_per_h: float, service_min: float, max_wait_min: float = DEFAULTS.max_wait_min,
                     max_p: float = DEFAULTS.max_p_wait) -> tuple[int, float]:
    """Smallest plug count with ``P(wait > max_wait_min) <= max_p`` and that probability.

    At least one plug (also for zero arrivals, where the probability is 0).
    """
    if not (arrivals_per_h >= 0) or not (service_min > 0):
        raise InputError(f"arrivals per hour must be >= 0 and service minutes > 0, got {arrivals_per_h}, {service_min}")
    a = arrivals_per_h * service_min / 60.0
    c = max(1, math.floor(a) + 1)
    while (p := p_wait_longer(c, arrivals_per_h, service_min, max_wait_min)) > max_p:
        c += 1
    return c, p


def transformer_kva(plugs: int, charger_kw: float, d: SizingDefaults = DEFAULTS) -> float:
    """Transformer kVA a charging station needs (before rounding to a rating).

    ``max(charger_kw, plugs × charger_kw × simultaneity) / (power_factor × efficiency)`` —
    parameters.md §4 "Grid connection, rules of thumb" (10 × 400 kW → about 3,200 kVA at 70 %
    simultaneity, pf 0.92, efficiency 0.95; vendor, conf. L). The ``max`` keeps one plug at full
    power (a guess: the rule is stated for 6–10 plugs).
    """
    kw = max(float(charger_kw), plugs * charger_kw * d.simultaneity) if plugs > 0 else 0.0
    return kw / (d.power_factor * d.charger_efficiency)


def standard_kva(kva: float, sizes: Sequence[float] = DEFAULTS.transformer_sizes_kva) -> float:
    """Smallest standard rating ``>= kva``; beyond the largest, a whole number of the largest units."""
    if kva <= 0:
        return 0.0
    for s in sorted(sizes):
        if s >= kva - 1e-9:
            return float(s)
    big = float(max(sizes))
    return big * math.ceil(kva / big - 1e-12)


def size_hpc(daily_sessions: float, d: SizingDefaults = DEFAULTS, headroom_kva: float | None = None,
             site_id: str = "") -> tuple[dict, list[str]]:
    """Size one high-power charging station for the sessions it serves per day.

    Parameters
    ----------
    daily_sessions : float
        Charging sessions per day at the station (served demand).
    d : SizingDefaults
        Charger power, arrival profile, session energy, waiting target, §4 transformer rule.
    headroom_kva : float, optional
        The candidate's grid headroom; a warning when the transformer exceeds it.
    site_id : str
        Named in warnings.

    Returns
    -------
    (dict, list of str)
        ``peak_arrivals_per_h``, ``mean_session_min``, ``plugs``, ``charger_kw``, ``p_wait``
        (P(wait > max_wait_min) at the peak hour), ``transformer_kva`` (standard rating),
        ``design_kw`` (plugs × kW × simultaneity, at least one plug); warnings.
    """
    if not (daily_sessions >= 0) or not math.isfinite(daily_sessions):
        raise InputError(f"daily sessions of site {site_id or '?'} must be a finite number >= 0, got {daily_sessions}")
    warnings: list[str] = []
    lam = peak_arrivals_per_hour(daily_sessions, d.arrival_profile)
    smin = session_minutes(d)
    plugs, p = plugs_for_target(lam, smin, d.max_wait_min, d.max_p_wait)
    kva = standard_kva(transformer_kva(plugs, d.charger_kw, d), d.transformer_sizes_kva)
    if daily_sessions == 0:
        warnings.append(f"site {site_id}: serves no charging sessions; sized at the minimum of one plug")
    if headroom_kva is not None and np.isfinite(headroom_kva) and kva > headroom_kva:
        warnings.append(f"site {site_id}: transformer {kva:g} kVA exceeds the grid headroom {headroom_kva:g} kVA")
    design_kw = max(d.charger_kw, plugs * d.charger_kw * d.simultaneity)
    return {"peak_arrivals_per_h": lam, "mean_session_min": smin, "plugs": plugs, "charger_kw": d.charger_kw,
            "p_wait": p, "transformer_kva": kva, "design_kw": design_kw}, warnings


def h2_kg_per_day(trucks_per_day, route_km, kg_per_100km: float = DEFAULTS.h2_kg_per_100km,
                  legs: float = DEFAULTS.h2_legs_per_delivery) -> float:
    """Hydrogen a station dispenses per day for the freight flows it serves.

    ``Σ trucks_per_day × route_km × legs × kg_per_100km / 100`` — every truck refills what it
    burns on its daily route (parameters.md §6 9–9.2 kg/100 km; ``legs`` = 2: loaded leg and
    empty return, a guess).
    """
    t = np.asarray(trucks_per_day, float)
    km = np.asarray(route_km, float)
    if t.shape != km.shape:
        raise InputError(f"trucks per day and route km differ in length ({t.shape} vs {km.shape})")
    bad = ~np.isfinite(t) | ~np.isfinite(km) | (t < 0) | (km < 0)
    if bad.any():
        raise InputError(f"trucks per day and route km must be finite and >= 0 (flow {int(np.argmax(bad)) + 1} is not)")
    return float((t * km).sum() * legs * kg_per_100km / 100.0)


def size_h2(kg_per_day: float, d: SizingDefaults = DEFAULTS, site_id: str = "") -> tuple[dict, list[str]]:
    """Class, storage, dispensers and GB 50516 grade of a hydrogen station for ``kg_per_day``.

    Returns
    -------
    (dict, list of str)
        ``h2_kg_day`` (demand), ``h2_class_kg_day`` (smallest §3 class carrying it; beyond the
        largest class, whole multiples of it with a warning), ``h2_storage_kg`` (class ×
        ``h2_storage_days``), ``h2_dispensers`` (class / ``h2_kg_day_per_dispenser``, at least 1),
        ``h2_grade`` (3, 2 or 1 by total storage; 0 when above grade 1), ``h2_utilisation``.
    """
    if not (kg_per_day >= 0) or not math.isfinite(kg_per_day):
        raise InputError(f"hydrogen demand of site {site_id or '?'} must be a finite number >= 0, got {kg_per_day}")
    warnings: list[str] = []
    classes = sorted(d.h2_station_classes_kg_day)
    cls = next((c for c in classes if c >= kg_per_day - 1e-9), None)
    if cls is None:
        cls = classes[-1] * math.ceil(kg_per_day / classes[-1])
        warnings.append(f"site {site_id}: {kg_per_day:.0f} kg/d is beyond the {classes[-1]:g} kg/d class; "
                        f"sized as {cls:g} kg/d ({cls / classes[-1]:g} × the largest class)")
    if kg_per_day == 0:
        warnings.append(f"site {site_id}: serves no hydrogen demand; sized at the smallest class")
    storage = cls * d.h2_storage_days
    g3, g2, g1 = d.h2_grade_limits_kg
    grade = 3 if storage <= g3 else 2 if storage <= g2 else 1 if storage <= g1 else 0
    if grade == 0:
        warnings.append(f"site {site_id}: {storage:g} kg storage exceeds GB 50516 grade 1 ({g1:g} kg)")
    return {"h2_kg_day": float(kg_per_day), "h2_class_kg_day": float(cls), "h2_storage_kg": float(storage),
            "h2_dispensers": max(1, math.ceil(cls / d.h2_kg_day_per_dispenser - 1e-9)), "h2_grade": grade,
            "h2_utilisation": float(kg_per_day / cls)}, warnings
