"""Comparing two candidate site lists on the same network and demand."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.compare._common import STATUSES, SUPPLIER_CIRCLE, dual_map, records, site_frame, summary_tech_order
from planner.compare.evaluate import evaluate_list, supplier_circle
from planner.compare.match import match_sites
from planner.vocab import DEFAULT_MAX_SNAP_M, STATION_TECHNOLOGIES


@dataclass
class ListComparison:
    """Result of :func:`compare_site_lists`.

    Attributes
    ----------
    status : DataFrame
        :func:`match_sites` table.
    summary : DataFrame
        Per technology (``h2``, ``hpc``, ``pv_storage`` present in either list), then
        ``total`` (stations and capex of all stations) and ``supplier_circle`` (when plants
        are listed and suppliers given): ``stations_a``, ``stations_b``, ``delta_stations``,
        ``capex_a``, ``capex_b``, ``delta_capex`` (万元), ``demand_total``, ``covered_a``,
        ``covered_b``, ``delta_covered`` (weight), ``share_a``, ``share_b``, ``delta_share``.
        For ``supplier_circle``: stations = plants, demand = supplier weight.
    reassigned : DataFrame
        Demand points whose assigned station changes (B's station is not A's station or its
        match): ``demand_id``, ``technology``, ``station_a``, ``station_b``, ``minutes_a``,
        ``minutes_b``, ``weight``, ``covered_a``, ``covered_b``.
    circle : DataFrame or None
        Per supplier, A vs B: ``supplier_id``, ``plant_a``, ``minutes_a``, ``covered_a``,
        ``plant_b``, ``minutes_b``, ``covered_b``, ``weight``.
    sites_a, sites_b : GeoDataFrame
    assignment_a, assignment_b : DataFrame
        :attr:`ListEvaluation.assignment` of each list.
    """

    status: pd.DataFrame
    summary: pd.DataFrame
    reassigned: pd.DataFrame
    sites_a: gpd.GeoDataFrame
    sites_b: gpd.GeoDataFrame
    assignment_a: pd.DataFrame
    assignment_b: pd.DataFrame
    circle: pd.DataFrame | None = None
    label_a: str = "A"
    label_b: str = "B"
    within_m: float = 50.0
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"status": self.status, "summary": self.summary, "reassigned": self.reassigned}
        if self.circle is not None:
            out["supplier_circle"] = self.circle
        return out

    def summary_json(self) -> dict:
        counts = self.status.status.value_counts()
        return {
            "kind": "site_lists", "label_a": self.label_a, "label_b": self.label_b, "within_m": self.within_m,
            "status_counts": {s: int(counts.get(s, 0)) for s in STATUSES},
            "summary": records(self.summary),
            "reassigned": {"demand_points": int(len(self.reassigned)),
                           "weight": float(self.reassigned.weight.sum()) if len(self.reassigned) else 0.0},
            "warnings": list(self.warnings),
        }

    def map(self, language: str = "en", basemap: str = "osm", roads=None):
        """Side-by-side :func:`planner.maps.compare_map` of the two lists (A left, B right)."""
        return dual_map(self.sites_a, self.sites_b, self.status, self.label_a, self.label_b,
                         language, basemap, roads)


def compare_site_lists(net, a, b, demand: Mapping, technologies, within_m: float = 50.0, suppliers=None,
                       threshold_min: float = 30.0, *, circle_profile: str | None = None,
                       max_snap_m: float | None = DEFAULT_MAX_SNAP_M, label_a: str = "A",
                       label_b: str = "B") -> ListComparison:
    """Compare two candidate site lists on the same network and demand.

    Parameters
    ----------
    net : RoadNetwork
    a, b : DataFrame or GeoDataFrame
        Site lists (:func:`read_site_list`): ``site_id``, ``technology``, point geometry or
        ``lon``/``lat``, optional ``name``, ``capex_wan``.
    demand : mapping technology → GeoDataFrame
        ``demand_id``, ``weight``, point geometry (see :func:`evaluate_list`).
    technologies : mapping of str to Technology
        :class:`planner.technology.Technology` by code (``scenario.siting.technologies``).
    within_m : float
        Matching distance of :func:`match_sites`.
    suppliers : DataFrame, optional
        Suppliers (:func:`planner.sites.read_sites`) for the supplier circle around the lists'
        ``plant`` rows. Suppliers naming a plant id of A that B lists under another id (matched
        by distance) are taken to serve B's plant.
    threshold_min : float
        Supplier circle threshold.
    circle_profile : str, optional
        Profile of the supplier circle; default ``offpeak`` if the network has it, else its
        first profile.
    max_snap_m : float or None
        Snap limit for stations and plants.
    label_a, label_b : str
        Names shown on the map and in ``summary.json``.

    Returns
    -------
    ListComparison
    """
    sa, sb = site_frame(a, "list A"), site_frame(b, "list B")
    status = match_sites(sa, sb, within_m)
    techs = summary_tech_order(t for t in pd.concat([sa.technology, sb.technology]) if t in STATION_TECHNOLOGIES)
    ev_a = evaluate_list(net, sa, demand, technologies, max_snap_m=max_snap_m, report=techs)
    ev_b = evaluate_list(net, sb, demand, technologies, max_snap_m=max_snap_m, report=techs)
    warnings = list(dict.fromkeys(ev_a.warnings + ev_b.warnings))

    s = ev_a.summary.merge(ev_b.summary, on="technology", suffixes=("_a", "_b"))
    summary = pd.DataFrame({
        "technology": s.technology, "stations_a": s.stations_a, "stations_b": s.stations_b,
        "capex_a": s.capex_wan_a, "capex_b": s.capex_wan_b, "demand_total": s.demand_total_a,
        "covered_a": s.covered_a, "covered_b": s.covered_b, "share_a": s.share_a, "share_b": s.share_b,
    })
    if len(summary):
        summary = pd.concat([summary, pd.DataFrame([{
            "technology": "total", "stations_a": int(summary.stations_a.sum()),
            "stations_b": int(summary.stations_b.sum()), "capex_a": float(summary.capex_a.sum()),
            "capex_b": float(summary.capex_b.sum())}])], ignore_index=True)

    circle = None
    plants_a, plants_b = sa[sa.technology == "plant"], sb[sb.technology == "plant"]
    if len(plants_a) or len(plants_b):
        if suppliers is None or len(suppliers) == 0:
            warnings.append("the lists contain plants but no suppliers were given: no supplier circle")
        else:
            prof = circle_profile or ("offpeak" if "offpeak" in net.profiles else net.profiles[0])
            circle, row = _compare_circles(net, status, plants_a, plants_b, suppliers, threshold_min, prof,
                                           max_snap_m)
            summary = pd.concat([summary, pd.DataFrame([row])], ignore_index=True) if len(summary) else \
                pd.DataFrame([row])

    summary = _with_deltas(summary)
    reassigned = _reassigned(ev_a.assignment, ev_b.assignment, status)
    return ListComparison(status=status, summary=summary, reassigned=reassigned, sites_a=sa, sites_b=sb,
                          assignment_a=ev_a.assignment, assignment_b=ev_b.assignment, circle=circle,
                          label_a=str(label_a), label_b=str(label_b), within_m=float(within_m),
                          warnings=warnings)


def _compare_circles(net, status, plants_a, plants_b, suppliers, threshold_min, profile, max_snap_m):
    """Per-supplier circle table A vs B and its ``supplier_circle`` summary row.

    Suppliers naming a plant of A that B lists under another id (matched by distance) are
    taken to serve B's plant.
    """
    same = status[(status.technology == "plant") & status.status.isin(["kept", "moved"])]
    a_to_b = dict(zip(same.site_id_a, same.site_id_b))
    sup_b = suppliers.copy()
    if "plants" in sup_b:
        sup_b["plants"] = [tuple(a_to_b.get(str(p), str(p)) for p in (t if isinstance(t, (tuple, list)) else ()))
                           for t in sup_b["plants"]]  # one short tuple per supplier
    ca = supplier_circle(net, plants_a, suppliers, threshold_min, profile, max_snap_m)
    cb = supplier_circle(net, plants_b, sup_b, threshold_min, profile, max_snap_m)
    circle = pd.DataFrame({
        "supplier_id": ca.supplier_id, "plant_a": ca.plant_id, "minutes_a": ca.minutes, "covered_a": ca.covered,
        "plant_b": cb.plant_id, "minutes_b": cb.minutes, "covered_b": cb.covered, "weight": ca.weight})
    w = circle.weight.to_numpy(float)
    total = float(w.sum())
    cov_a = float(w[circle.covered_a.to_numpy(bool)].sum())
    cov_b = float(w[circle.covered_b.to_numpy(bool)].sum())
    row = {"technology": SUPPLIER_CIRCLE, "stations_a": len(plants_a), "stations_b": len(plants_b),
           "capex_a": np.nan, "capex_b": np.nan, "demand_total": total, "covered_a": cov_a, "covered_b": cov_b,
           "share_a": cov_a / total if total > 0 else np.nan, "share_b": cov_b / total if total > 0 else np.nan}
    return circle, row


def _with_deltas(summary: pd.DataFrame) -> pd.DataFrame:
    cols = ["technology", "stations_a", "stations_b", "delta_stations", "capex_a", "capex_b", "delta_capex",
            "demand_total", "covered_a", "covered_b", "delta_covered", "share_a", "share_b", "delta_share"]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    out = summary.copy()
    out["stations_a"] = out.stations_a.astype(int)
    out["stations_b"] = out.stations_b.astype(int)
    out["delta_stations"] = out.stations_b - out.stations_a
    out["delta_capex"] = out.capex_b - out.capex_a
    out["delta_covered"] = out.covered_b - out.covered_a
    out["delta_share"] = out.share_b - out.share_a
    return out.reindex(columns=cols)


def _reassigned(asg_a: pd.DataFrame, asg_b: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    cols = ["demand_id", "technology", "station_a", "station_b", "minutes_a", "minutes_b", "weight",
            "covered_a", "covered_b"]
    if asg_a.empty and asg_b.empty:
        return pd.DataFrame(columns=cols)
    # same demand on both sides: an outer join in A's order (then any B-only rows)
    a = asg_a.assign(_order=np.arange(len(asg_a)))
    b = asg_b.assign(_order=np.arange(len(asg_b)) + len(asg_a))
    j = a.merge(b, on=["technology", "demand_id"], how="outer", suffixes=("_a", "_b"))
    j = j.assign(_order=j._order_a.fillna(j._order_b)).sort_values("_order", kind="stable").reset_index(drop=True)
    same = status[status.status.isin(["kept", "moved"])]
    b_as_a = pd.Series(same.site_id_a.to_numpy(dtype=object),
                       index=pd.MultiIndex.from_arrays([same.technology.to_numpy(dtype=object),
                                                        same.site_id_b.to_numpy(dtype=object)]))
    st_a = j.station_id_a.astype(object).where(j.station_id_a.notna(), None)
    st_b = j.station_id_b.astype(object).where(j.station_id_b.notna(), None)
    # B's station as the A station it continues (missing for a new station); an unmatched B id
    # never equals an A id of the same technology (those are matched by id)
    keys = pd.MultiIndex.from_arrays([j.technology.to_numpy(dtype=object), st_b.to_numpy(dtype=object)])
    as_a = pd.Series(b_as_a.reindex(keys).to_numpy(dtype=object) if len(b_as_a) else np.full(len(j), None),
                     index=j.index, dtype=object)
    has_a, has_b = st_a.notna().to_numpy(), st_b.notna().to_numpy()
    changed = (has_a != has_b) | (has_a & has_b & (as_a.isna().to_numpy() | (as_a != st_a).to_numpy()))
    r = j[changed]
    return pd.DataFrame({
        "demand_id": r.demand_id, "technology": r.technology,
        "station_a": st_a[changed], "station_b": st_b[changed],
        "minutes_a": r.minutes_a.astype(float), "minutes_b": r.minutes_b.astype(float),
        "weight": r.weight_a.fillna(r.weight_b).astype(float),
        "covered_a": r.covered_a.fillna(False).astype(bool), "covered_b": r.covered_b.fillna(False).astype(bool),
    }, columns=cols).reset_index(drop=True)
