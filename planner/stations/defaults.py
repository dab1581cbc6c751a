"""Default sizing, tariff and cost parameters of the station-sizing library, each with its source.

Every field of :class:`SizingDefaults` carries ``metadata["source"]``: the section and row of
``shared/reference/parameters.md`` it comes from (with that row's confidence), "derived" with
the arithmetic, or **guess**. :func:`defaults_table` lists them; ``docs/station_sizing.md`` is
the same list for readers (a test checks the two agree).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

__all__ = ["SizingDefaults", "DEFAULTS", "defaults_table", "ARRIVAL_PROFILE_GUESS"]


def _p(value, unit: str, source: str):
    """A dataclass field with a default value, its unit and its source."""
    if isinstance(value, (tuple, list, dict)):
        v = value
        return field(default_factory=lambda: v, metadata={"unit": unit, "source": source})
    return field(default=value, metadata={"unit": unit, "source": source})


#: Share of a day's fast-charging arrivals per clock hour 0–23. **A guess** shaped on
#: parameters.md §9 "Beijing public charging: daily peaks in charged energy" (three peaks at
#: 08:00, 16:00 and 23:00, conf. L) and §9 private-EV trip peaks 07–09 / 17–19 (conf. M); the
#: share of daily sessions per hour was NOT FOUND (§9).
ARRIVAL_PROFILE_GUESS: tuple[float, ...] = tuple(
    w / 109.0 for w in (3, 2, 1.5, 1, 1, 1.5, 3, 5, 7, 6, 5, 5, 5, 5, 5.5, 6, 7, 6.5, 6, 5.5, 5, 5, 5.5, 6))


@dataclass(frozen=True)
class SizingDefaults:
    """Defaults of station sizing, operation and sized capex (units in each field's metadata)."""

    # ---------------------------------------------------------------- high-power charging
    charger_kw: float = _p(600.0, "kW per plug", "§4 'Liquid-cooled supercharger' 600 kW (M); §4 State Grid southern-Beijing 600 kW single plug (M)")
    ev_sessions_per_day: float = _p(5000.0, "sessions/day in the study area", "guess (order of magnitude: §4 'Beijing State Grid superchargers (2025)' 11 stations > 8,000 vehicles/d, L-M; Yizhuang is one district)")
    arrival_profile: tuple = _p(ARRIVAL_PROFILE_GUESS, "share of daily arrivals per hour 0-23", "guess shaped on §9 'daily peaks in charged energy' 08/16/23 h (L); hourly shares NOT FOUND (§9)")
    session_kwh: float = _p(40.0, "kWh per session", "guess: empirical kWh per session in China NOT FOUND (§9); §9 gives 100 kWh / 10 min as the theoretical 600 kW maximum (L)")
    mean_power_share: float = _p(0.5, "mean / nameplate charger power over a session", "guess (battery taper; few cars accept 600 kW)")
    handling_min: float = _p(3.0, "min per session (plug in / out, payment)", "guess")
    max_wait_min: float = _p(5.0, "min", "issue 13 target: P(wait > 5 min) <= 10 %")
    max_p_wait: float = _p(0.10, "probability", "issue 13 target: P(wait > 5 min) <= 10 %")
    simultaneity: float = _p(0.7, "share of plug power drawn at once", "§4 'Grid connection, rules of thumb': 10 x 400 kW -> 3,200 kVA at 70 % simultaneity (L vendor)")
    power_factor: float = _p(0.92, "", "§4 'Grid connection, rules of thumb' (L vendor)")
    charger_efficiency: float = _p(0.95, "", "§4 'Grid connection, rules of thumb' (L vendor)")
    transformer_sizes_kva: tuple = _p((315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500),
                                      "kVA, 10 kV box transformer ratings",
                                      "guess: the R10 rating series of distribution transformers; §4 names 630, 1,000, 2,000 and 3,200 kVA units (L). Larger needs are built from several 2,500 kVA units")
    flexible_share: float = _p(0.3, "share of daily charging energy that can be moved", "guess (smart ordered charging 智能有序充电; no Beijing figure in parameters.md)")
    # ---------------------------------------------------------------- hydrogen
    h2_kg_per_100km: float = _p(9.1, "kg H2 / 100 km", "§6 'Consumption, typical' 9-9.2 kg/100 km (ICCT via futurefuels.in, M), midpoint")
    h2_legs_per_delivery: float = _p(2.0, "legs per delivery", "guess: loaded leg + empty return; the flows model only the loaded leg (planner.stations.demand.freight_flows)")
    h2_truck_speed_kmh: float = _p(35.0, "km/h", "guess: converts a flow's truck minutes into route km when no km is given")
    h2_station_classes_kg_day: tuple = _p((500.0, 1000.0), "kg/d", "§3 'Small station' 500 kg/d (M); §3 'Typical large station' 1,000 kg/d (M)")
    h2_storage_days: float = _p(1.0, "days of class capacity stored", "§13 'Wuhan HRS' 1,000 kg/d with 1,000 kg storage (M, 2018); §13 'Storage for a 500 kg/d station' is an inference")
    h2_kg_day_per_dispenser: float = _p(600.0, "kg/d per dispenser", "derived from §13 Daxing 4.8 t/d on 8 dispensers / 16 nozzles (M): 4,800 / 8 = 600")
    h2_grade_limits_kg: tuple = _p((1000.0, 4000.0, 8000.0), "kg total storage, grades 3 / 2 / 1", "§13 'HRS grades by total storage (GB 50516)' (L secondary)")
    # ---------------------------------------------------------------- PV and storage
    kwp_per_m2: float = _p(0.20, "kWp/m2", "§5 'Canopy power density' 82 kW on ~410 m2 (M, derived)")
    canopy_share: float = _p(1.0, "share of lot area under PV", "guess, as planner.stations.demand.PV_YIELD_KWH_PER_M2 (whole lot)")
    specific_yield_kwh_per_kwp: float = _p(1010.0, "kWh/kWp/yr", "§5 'Beijing specific yield': Yizhuang Xiaomi rooftop 16.2 MW -> 16.4 GWh/yr (L, derived)")
    pv_tilt_deg: float = _p(10.0, "deg", "guess (carport canopy)")
    pv_azimuth_deg: float = _p(180.0, "deg from north", "guess (south-facing)")
    albedo: float = _p(0.2, "", "guess (common default ground reflectance)")
    site_altitude_m: float = _p(35.0, "m", "guess (Yizhuang plain)")
    pv_year: int = _p(2025, "", "guess: a non-leap year of 8,760 hours")
    battery_hours: float = _p(2.0, "h (kWh / kW)", "§5 / §14 CEEC tender 2-hour systems (H utility scale)")
    battery_roundtrip: float = _p(0.90, "", "guess (LFP)")
    battery_life_years: float = _p(10.0, "years", "guess")
    discount_rate: float = _p(0.06, "per year", "guess")
    # ---------------------------------------------------------------- tariff (Beijing TOU, 1-10 kV C&I)
    price_peak: float = _p(0.926841, "yuan/kWh", "§8 'Official price example: 1-10 kV, two-part C&I, 2024-07' (H via transcription)")
    price_flat: float = _p(0.681335, "yuan/kWh", "§8 same row")
    price_valley: float = _p(0.435829, "yuan/kWh", "§8 same row")
    price_critical: float = _p(1.057777, "yuan/kWh", "§8 same row")
    peak_hours: tuple = _p((10, 11, 12, 17, 18, 19, 20, 21), "clock hours", "§8 'Peak hours' 10-13, 17-22 (H via transcription)")
    valley_hours: tuple = _p((23, 0, 1, 2, 3, 4, 5, 6), "clock hours", "§8 'Valley hours' 23-07 (H via transcription)")
    critical_hours: tuple = _p(((7, (11, 12, 16)), (8, (11, 12, 16)), (1, (18, 19, 20)), (12, (18, 19, 20))),
                               "(month, clock hours) pairs", "§8 'Critical peak, summer' 11-13, 16-17 (H via transcription); 'winter' 18-21 (L for exact hours)")
    export_price: float = _p(0.0, "yuan/kWh fed to the grid (V2G / 放)", "guess: no Beijing feed-in / V2G price in parameters.md; 0 = no discharge to the grid")
    # ---------------------------------------------------------------- capex (万元 = 10,000 yuan)
    capex_per_charger_kw_wan: float = _p(0.08, "万元 per kW of plug", "§4 'Liquid-cooled post capex' about 0.8 yuan/W equipment (L): 600 kW -> 48 万 per plug, inside the row's 20-60 万")
    capex_per_kva_wan: float = _p(0.015, "万元 per kVA", "§4 'Grid connection': a 3,200 kVA unit about 48 万 installed (L) -> 150 yuan/kVA")
    capex_hpc_fixed_wan: float = _p(100.0, "万元 per charging station", "guess: civil works, canopy frame, cabling; land excluded")
    capex_h2_fixed_wan: float = _p(400.0, "万元 per H2 station", "guess split of §3 '500 kg/d fixed station about 1,000 万' (L): 400 fixed + 500 kg/d x 1.2")
    capex_per_h2_kg_day_wan: float = _p(1.2, "万元 per kg/d of class capacity", "guess split of §3 (L), see capex_h2_fixed_wan; land (300-500 万, §3) excluded")
    capex_per_kwp_wan: float = _p(0.3304, "万元 per kWp", "§14 'PV EPC average winning bid, China 2024' 3.304 yuan/W (M)")
    capex_per_kwh_wan: float = _p(0.04646, "万元 per kWh", "§14 CEEC 2-h BESS system average 0.4646 yuan/Wh (M utility scale; C&I systems likely dearer, NOT FOUND)")


#: The defaults used when a caller passes none.
DEFAULTS = SizingDefaults()


def defaults_table(d: SizingDefaults = DEFAULTS) -> pd.DataFrame:
    """Every default with its value, unit and source (``name, value, unit, source``)."""
    return pd.DataFrame([{"name": f.name, "value": getattr(d, f.name), "unit": f.metadata["unit"],
                          "source": f.metadata["source"]} for f in fields(d)])
