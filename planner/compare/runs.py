"""Comparing two run output folders written by ``planner run`` (layout: :class:`planner.outputs.RunLayout`)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.compare._common import (
    ALLOWED_TEXT,
    STATUSES,
    dual_map,
    normalise_technology,
    records,
    str_ids,
    summary_tech_order,
)
from planner.compare.match import match_sites
from planner.errors import InputError
from planner.outputs import RunLayout

_SITES_REQUIRED = ("site_id", "technology", "lon", "lat")


_COVERAGE_REQUIRED = ("plant_id", "profile", "threshold_min", "suppliers_total", "suppliers_covered",
                      "share_covered", "weighted_share_covered")


@dataclass
class RunComparison:
    """Result of :func:`compare_runs`.

    Attributes
    ----------
    status : DataFrame or None
        :func:`match_sites` table of the two runs' selected sites.
    summary : DataFrame or None
        Per technology (then ``total``): ``stations_a/_b``, ``delta_stations``,
        ``capex_a/_b``, ``delta_capex``, ``demand_served_a/_b``, ``delta_demand_served``,
        ``share_a/_b`` (sum of the sites' shares), ``delta_share``.
    coverage : DataFrame or None
        Per plant × profile (outer join): ``plant_id``, ``profile``, ``present``
        (``both``/``a_only``/``b_only``), ``threshold_min_a/_b``, ``suppliers_total_a/_b``,
        ``suppliers_covered_a/_b``, ``delta_suppliers_covered``, ``share_covered_a/_b``,
        ``delta_share_covered``, ``weighted_share_covered_a/_b``, ``delta_weighted_share_covered``.
    budget : DataFrame or None
        ``item`` (``budget_wan``, ``capex_wan``, ``unspent_wan``), ``a``, ``b``, ``delta``.
    """

    run_a: Path
    run_b: Path
    status: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    budget: pd.DataFrame | None = None
    sites_a: gpd.GeoDataFrame | None = None
    sites_b: gpd.GeoDataFrame | None = None
    within_m: float = 50.0
    warnings: list[str] = field(default_factory=list)

    @property
    def label_a(self) -> str:
        return Path(self.run_a).name

    @property
    def label_b(self) -> str:
        return Path(self.run_b).name

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"status": self.status, "summary": self.summary, "coverage": self.coverage, "budget": self.budget}
        return {k: v for k, v in out.items() if v is not None}

    def summary_json(self) -> dict:
        out = {"kind": "runs", "run_a": str(self.run_a), "run_b": str(self.run_b), "within_m": self.within_m,
               "warnings": list(self.warnings)}
        if self.status is not None:
            counts = self.status.status.value_counts()
            out["status_counts"] = {s: int(counts.get(s, 0)) for s in STATUSES}
        for name in ("summary", "coverage", "budget"):
            df = getattr(self, name)
            if df is not None:
                out[name] = records(df)
        return out

    def map(self, language: str = "en", basemap: str = "osm", roads=None):
        """Dual map of the two runs' selected sites (None when a run has no siting output)."""
        if self.sites_a is None or self.sites_b is None:
            return None
        return dual_map(self.sites_a, self.sites_b, self.status, self.label_a, self.label_b,
                         language, basemap, roads)


def _read_run_csv(path: Path, required) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={"site_id": str, "plant_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the table: {' '.join(str(exc).split())}", path=path) from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"required column '{missing[0]}' not found; columns found: {', '.join(map(str, df.columns))}",
                         path=path, column=missing[0])
    return df


def _read_run(folder) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a run output folder (no such folder)", path=folder)
    manifest_path = folder / "run.json"
    if not manifest_path.is_file():
        raise InputError("not a run output folder (no run.json; run 'planner run' first)", path=folder)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"run manifest is not valid JSON ({exc})", path=manifest_path) from None
    if not isinstance(manifest, dict):
        raise InputError("run manifest is not a JSON object", path=manifest_path)
    run = {"folder": folder, "manifest": manifest, "sites": None, "coverage": None,
           "demand_basis": _demand_basis(folder / RunLayout.PROBLEM_DEMAND)}
    sites_path = folder / RunLayout.SELECTED_SITES
    if sites_path.is_file():
        df = _read_run_csv(sites_path, _SITES_REQUIRED)
        codes, ok = normalise_technology(df["technology"])
        if not ok.all():
            pos = int(np.flatnonzero(~ok)[0])
            raise InputError(f"unknown technology {df['technology'].iloc[pos]!r}; use {ALLOWED_TEXT}",
                             path=sites_path, row=pos + 2, column="technology")
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError("lon/lat is blank or not a number", path=sites_path, row=pos + 2, column="lon/lat")
        ids = str_ids(df["site_id"])
        run["sites"] = gpd.GeoDataFrame({
            "site_id": ids, "technology": codes,
            "name": df["name"].fillna(pd.Series(ids)).to_numpy(dtype=object) if "name" in df else ids,
            "lon": lon, "lat": lat,
            "capex_wan": pd.to_numeric(df["capex"], errors="coerce").to_numpy(float) if "capex" in df else np.nan,
            "demand_served": pd.to_numeric(df["demand_served"], errors="coerce").to_numpy(float)
            if "demand_served" in df else np.nan,
            "share": pd.to_numeric(df["share"], errors="coerce").to_numpy(float) if "share" in df else np.nan,
        }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    cov_path = folder / RunLayout.PLANT_SUMMARY
    if cov_path.is_file():
        run["coverage"] = _read_run_csv(cov_path, _COVERAGE_REQUIRED)
    if run["sites"] is None and run["coverage"] is None:
        raise InputError(f"not a run output folder: neither {RunLayout.SELECTED_SITES.as_posix()} nor "
                         f"{RunLayout.PLANT_SUMMARY.as_posix()} found", path=folder)
    return run


def _demand_basis(path: Path) -> dict[str, str] | None:
    """Per technology, a digest of the demand a run weighed (ids, raw weights, positions);
    ``None`` when the run folder has no exported problem."""
    if not path.is_file():
        return None
    try:
        d = pd.read_csv(path, encoding="utf-8-sig", dtype={"demand_id": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable exported demand ({exc})", path=path) from None
    out = {}
    for tech, g in d.groupby("technology", sort=True):
        rows = sorted(zip(g.demand_id.astype(str), np.round(g.raw_weight.to_numpy(float), 9),
                          np.round(g.lon.to_numpy(float), 6), np.round(g.lat.to_numpy(float), 6)))
        out[str(tech)] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def _flag_demand_bases(res: RunComparison, basis_a: dict | None, basis_b: dict | None) -> None:
    """Mark the technologies whose demand differs between the runs: their demand served and
    shares are not like for like, so their deltas are blanked and a warning says why."""
    s = res.summary
    is_tech = (s.technology != "total").to_numpy()
    if basis_a is None or basis_b is None:
        s["same_demand"] = pd.array([pd.NA] * len(s), dtype="boolean")
        res.warnings.append("cannot tell whether the runs weighed the same demand (no "
                            f"{RunLayout.PROBLEM_DEMAND.as_posix()} in both): compare shares with care")
        return
    same = np.array([basis_a.get(t) == basis_b.get(t) for t in s.technology])
    s["same_demand"] = pd.array(np.where(is_tech, same, pd.NA), dtype="boolean")
    differ = [t for t, ok, tech in zip(s.technology, same, is_tech) if tech and not ok]
    if differ:
        s.loc[s.technology.isin(differ), ["delta_demand_served", "delta_share"]] = np.nan
        res.warnings.append(f"the runs weighed different demand for {', '.join(differ)} (e.g. a study area or other "
                            "demand rules): demand served and shares are not comparable, so no delta is given")


def _budget_of(manifest: dict) -> float:
    try:
        value = manifest["settings"]["siting"]["budget_wan"]
        return float(value) if value is not None else np.nan
    except (KeyError, TypeError, ValueError):
        return np.nan


def compare_runs(run_a, run_b, within_m: float = 50.0) -> RunComparison:
    """Compare two run output folders written by ``planner run``.

    Parameters
    ----------
    run_a, run_b : str or Path
        Output folders holding ``run.json`` and ``siting/selected_sites.csv`` (``site_id``,
        ``technology``, ``name``, ``lon``, ``lat``, ``capex`` in 万元, ``demand_served``,
        ``share``) and/or ``coverage/plant_summary.csv``.
    within_m : float
        Matching distance of :func:`match_sites` for the selected sites.

    Returns
    -------
    RunComparison
        Sites added / removed / kept / moved, per-technology and budget differences (when both
        runs sited stations), coverage differences per plant and profile (when both audited
        coverage). A part only one run has is skipped with a warning.

    Raises
    ------
    InputError
        A folder is not a run output (no ``run.json``, or neither result table), a table
        lacks a required column, or the two runs have no part in common.
    """
    ra, rb = _read_run(run_a), _read_run(run_b)
    res = RunComparison(run_a=Path(run_a), run_b=Path(run_b), within_m=float(within_m))
    for part, what in (("sites", "siting"), ("coverage", "coverage")):
        if (ra[part] is None) != (rb[part] is None):
            only = res.label_a if ra[part] is not None else res.label_b
            res.warnings.append(f"only {only} has {what} outputs: {what} not compared")
    if ra["sites"] is not None and rb["sites"] is not None:
        sa, sb = ra["sites"], rb["sites"]
        res.sites_a, res.sites_b = sa, sb
        res.status = match_sites(sa, sb, within_m)
        res.summary = _run_sites_summary(sa, sb)
        _flag_demand_bases(res, ra["demand_basis"], rb["demand_basis"])
        ba, bb = _budget_of(ra["manifest"]), _budget_of(rb["manifest"])
        ca, cb = float(np.nansum(sa.capex_wan)), float(np.nansum(sb.capex_wan))
        res.budget = pd.DataFrame({"item": ["budget_wan", "capex_wan", "unspent_wan"],
                                   "a": [ba, ca, ba - ca], "b": [bb, cb, bb - cb]})
        res.budget["delta"] = res.budget.b - res.budget.a
    if ra["coverage"] is not None and rb["coverage"] is not None:
        res.coverage = _run_coverage_diff(ra["coverage"], rb["coverage"])
        ta = set(ra["coverage"].threshold_min.dropna().astype(float))
        tb = set(rb["coverage"].threshold_min.dropna().astype(float))
        if ta != tb:
            res.warnings.append(f"the runs use different coverage thresholds ({sorted(ta)} vs {sorted(tb)} min): "
                                "coverage shares are not like for like")
    if res.status is None and res.coverage is None:
        raise InputError(f"nothing to compare: {res.label_a} and {res.label_b} have no result table in common "
                         f"({RunLayout.SELECTED_SITES.as_posix()} or {RunLayout.PLANT_SUMMARY.as_posix()})",
                         path=Path(run_b))
    return res


def _run_sites_summary(sa: pd.DataFrame, sb: pd.DataFrame) -> pd.DataFrame:
    def agg(s):
        return s.groupby("technology", sort=False).agg(
            stations=("site_id", "size"), capex=("capex_wan", "sum"),
            demand_served=("demand_served", "sum"), share=("share", "sum"))

    techs = summary_tech_order(pd.concat([sa.technology, sb.technology]))
    ga, gb = agg(sa).reindex(techs), agg(sb).reindex(techs)
    ga["stations"], gb["stations"] = ga.stations.fillna(0), gb.stations.fillna(0)
    ga, gb = ga.fillna({"capex": 0.0, "demand_served": 0.0, "share": 0.0}), gb.fillna(
        {"capex": 0.0, "demand_served": 0.0, "share": 0.0})
    out = pd.DataFrame({"technology": techs})
    for col in ("stations", "capex", "demand_served", "share"):
        out[f"{col}_a"] = ga[col].to_numpy()
        out[f"{col}_b"] = gb[col].to_numpy()
    out["stations_a"], out["stations_b"] = out.stations_a.astype(int), out.stations_b.astype(int)
    total = {"technology": "total", "stations_a": int(out.stations_a.sum()), "stations_b": int(out.stations_b.sum()),
             "capex_a": float(out.capex_a.sum()), "capex_b": float(out.capex_b.sum()),
             "demand_served_a": np.nan, "demand_served_b": np.nan, "share_a": np.nan, "share_b": np.nan}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    for col in ("stations", "capex", "demand_served", "share"):
        out[f"delta_{col}"] = out[f"{col}_b"] - out[f"{col}_a"]
    parts = ("stations", "capex", "demand_served", "share")
    cols = ["technology"] + [name for c in parts for name in (f"{c}_a", f"{c}_b", f"delta_{c}")]
    return out[cols]


def _run_coverage_diff(ca: pd.DataFrame, cb: pd.DataFrame) -> pd.DataFrame:
    keep = list(_COVERAGE_REQUIRED)
    a = ca[keep].assign(plant_id=str_ids(ca.plant_id), profile=ca.profile.astype(str))
    b = cb[keep].assign(plant_id=str_ids(cb.plant_id), profile=cb.profile.astype(str))
    j = a.merge(b, on=["plant_id", "profile"], how="outer", suffixes=("_a", "_b"), indicator=True, sort=False)
    j["present"] = j.pop("_merge").map({"both": "both", "left_only": "a_only", "right_only": "b_only"}).astype(str)
    for col in ("suppliers_covered", "share_covered", "weighted_share_covered"):
        j[f"delta_{col}"] = j[f"{col}_b"] - j[f"{col}_a"]
    cols = ["plant_id", "profile", "present", "threshold_min_a", "threshold_min_b", "suppliers_total_a",
            "suppliers_total_b", "suppliers_covered_a", "suppliers_covered_b", "delta_suppliers_covered",
            "share_covered_a", "share_covered_b", "delta_share_covered", "weighted_share_covered_a",
            "weighted_share_covered_b", "delta_weighted_share_covered"]
    return j[cols].reset_index(drop=True)
