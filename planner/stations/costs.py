"""Station capex on real sizes (万元 = 10,000 yuan), and the ``capex_model = "flat" | "sized"`` switch.

``"flat"``: every station of a technology costs the scenario's ``capex_wan`` (today's model).
``"sized"``: capex from the station's sizes, by component —

* ``chargers``: plugs × charger kW × ``capex_per_charger_kw_wan`` (§4 about 0.8 yuan/W);
* ``transformer``: kVA × ``capex_per_kva_wan`` (§4 a 3,200 kVA unit about 48 万 installed);
* ``h2``: class kg/d × ``capex_per_h2_kg_day_wan`` (guess split of §3's 1,000 万 for 500 kg/d);
* ``pv``: kWp × ``capex_per_kwp_wan`` (§14 PV EPC 3.304 yuan/W);
* ``storage``: kWh × ``capex_per_kwh_wan`` (§14 2-h BESS 0.4646 yuan/Wh, utility scale);
* ``fixed``: per station (``capex_hpc_fixed_wan`` for charging / PV-storage, ``capex_h2_fixed_wan``
  for hydrogen; guesses). Land is excluded everywhere.

Station kinds follow the siting technologies' ``demand``: ``"freight"`` (hydrogen), ``"ev"``
(high-power charging), ``"pv"`` (PV-storage-charging).
"""
from __future__ import annotations

import math

from planner.errors import InputError

from .defaults import DEFAULTS, SizingDefaults

__all__ = ["CAPEX_MODELS", "CAPEX_COMPONENTS", "STATION_KINDS", "sized_capex", "station_capex"]

#: Allowed values of ``capex_model``.
CAPEX_MODELS: tuple[str, ...] = ("flat", "sized")
#: Components of the sized capex, in table order (``capex_<component>_wan`` columns).
CAPEX_COMPONENTS: tuple[str, ...] = ("chargers", "transformer", "h2", "pv", "storage", "fixed")
#: Station kinds (the siting technology's ``demand``).
STATION_KINDS: tuple[str, ...] = ("freight", "ev", "pv")


def _check_kind(kind: str) -> None:
    if kind not in STATION_KINDS:
        raise InputError(f"unknown station kind '{kind}' (expected one of {', '.join(STATION_KINDS)})")


def sized_capex(kind: str, sizes: dict, d: SizingDefaults = DEFAULTS) -> dict[str, float]:
    """Capex by component (万元) of a station of ``kind`` with ``sizes``.

    Parameters
    ----------
    kind : {"freight", "ev", "pv"}
    sizes : dict
        ``plugs``, ``charger_kw``, ``transformer_kva`` (charging kinds); ``h2_class_kg_day``
        (hydrogen); ``pv_kwp``, ``storage_kwh`` (PV-storage). Missing or NaN values count 0.
    """
    _check_kind(kind)

    def v(key):
        x = sizes.get(key, 0.0)
        return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    out = dict.fromkeys(CAPEX_COMPONENTS, 0.0)
    if kind == "freight":
        out["h2"] = v("h2_class_kg_day") * d.capex_per_h2_kg_day_wan
        out["fixed"] = d.capex_h2_fixed_wan
        return out
    out["chargers"] = v("plugs") * v("charger_kw") * d.capex_per_charger_kw_wan
    out["transformer"] = v("transformer_kva") * d.capex_per_kva_wan
    out["fixed"] = d.capex_hpc_fixed_wan
    if kind == "pv":
        out["pv"] = v("pv_kwp") * d.capex_per_kwp_wan
        out["storage"] = v("storage_kwh") * d.capex_per_kwh_wan
    return out


def station_capex(kind: str, sizes: dict, capex_model: str, flat_wan: float | None = None,
                  d: SizingDefaults = DEFAULTS) -> dict[str, float]:
    """``capex_<component>_wan`` columns and ``capex_wan`` (total) under ``capex_model``.

    ``"flat"`` returns ``flat_wan`` as the total and NaN components; ``"sized"`` the sum of
    :func:`sized_capex`.
    """
    if capex_model not in CAPEX_MODELS:
        raise InputError(f"capex_model must be one of {', '.join(CAPEX_MODELS)}, got '{capex_model}'")
    if capex_model == "flat":
        if flat_wan is None or not flat_wan >= 0:
            raise InputError(f"capex_model 'flat' needs the technology's capex_wan (>= 0), got {flat_wan}")
        return {**{f"capex_{c}_wan": float("nan") for c in CAPEX_COMPONENTS}, "capex_wan": float(flat_wan)}
    parts = sized_capex(kind, sizes, d)
    return {**{f"capex_{c}_wan": parts[c] for c in CAPEX_COMPONENTS}, "capex_wan": float(sum(parts.values()))}
