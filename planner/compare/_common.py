"""Shared pieces of the comparisons: technology values, site frames, ids, coordinates."""
from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from planner._headers import norm
from planner.errors import InputError
from planner.maps import compare_map
from planner.technology import Technology
from planner.vocab import MATCH_STATUSES, STATION_TECHNOLOGIES, tech_order

#: Values of ``status`` in :func:`match_sites`.
STATUSES = MATCH_STATUSES


#: Column names that hold the technology (normalised like :func:`planner._headers.norm`), best first.
TECHNOLOGY_COLUMN_ALIASES: tuple[str, ...] = (
    "technology", "tech", "type", "station_type", "类型", "技术", "技术类型", "站点类型", "站型",
)


#: Column names that hold a per-site capex in 万元, best first.
CAPEX_COLUMN_ALIASES: tuple[str, ...] = (
    "capex_wan", "capex", "投资万元", "投资", "投资额", "建设投资", "造价",
)


#: Technology values (normalised like :func:`planner._headers.norm`) → code.
TECHNOLOGY_VALUES: dict[str, str] = {
    "h2": "h2", "hydrogen": "h2", "hrs": "h2", "加氢站": "h2", "加氢": "h2", "氢能": "h2",
    "hpc": "hpc", "highpowercharging": "hpc", "大功率充电": "hpc", "大功率充电站": "hpc",
    "超充": "hpc", "超充站": "hpc", "超级充电": "hpc", "超级充电站": "hpc",
    "pvstorage": "pv_storage", "pvstoragecharging": "pv_storage", "光储充": "pv_storage",
    "光储充一体站": "pv_storage", "光储充一体": "pv_storage", "光储充一体化": "pv_storage",
    "光储充站": "pv_storage",
    "plant": "plant", "factory": "plant", "工厂": "plant", "主机厂": "plant",
}


ALLOWED_TEXT = "h2, hpc, pv_storage, plant (or 加氢站, 大功率充电/超充, 光储充, 工厂)"


_SUMMARY_TECH_ORDER = STATION_TECHNOLOGIES + ("total", "supplier_circle")


SUPPLIER_CIRCLE = "supplier_circle"


def normalise_technology(values) -> tuple[np.ndarray, np.ndarray]:
    """Technology codes of raw values (English or Chinese, any case).

    Parameters
    ----------
    values : array-like
        Raw cells, e.g. ``"H2"``, ``"加氢站"``, ``"超充"``, ``"PV-storage"``.

    Returns
    -------
    codes : ndarray of object
        ``h2`` | ``hpc`` | ``pv_storage`` | ``plant``, ``None`` where not recognised.
    ok : ndarray of bool
        Recognised values.
    """
    s = pd.Series(values, dtype=object)
    blank = s.isna().to_numpy()
    keys = s.where(~s.isna(), "").map(norm)
    codes = keys.map(TECHNOLOGY_VALUES).to_numpy(dtype=object)
    ok = ~blank & np.asarray(pd.notna(codes), dtype=bool)
    codes[~ok] = None
    return codes, ok


def summary_tech_order(values) -> list[str]:
    return tech_order(values, _SUMMARY_TECH_ORDER)


def tech_config(technologies: Mapping[str, Technology] | None, tech: str) -> Technology | None:
    """The :class:`~planner.technology.Technology` of code ``tech``, or ``None`` when not configured."""
    return technologies.get(tech) if technologies else None


def str_ids(values) -> np.ndarray:
    """Ids as strings (``3.0`` → ``"3"``)."""
    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()

    return pd.Series(values, dtype=object).map(one).to_numpy(dtype=object)


def lonlat(df, what: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of a frame's points (geometry when present, else ``lon``/``lat`` columns)."""
    geom = None
    if isinstance(df, gpd.GeoDataFrame):
        try:
            geom = df.geometry
        except AttributeError:  # no active geometry column
            geom = None
    if geom is not None and bool(geom.notna().all()) and not bool(geom.is_empty.any()):
        if len(geom) == 0:
            return np.empty(0), np.empty(0)
        if geom.crs is not None and not geom.crs.equals("EPSG:4326"):
            geom = geom.to_crs(4326)
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        return geom.x.to_numpy(float), geom.y.to_numpy(float)
    missing = [c for c in ("lon", "lat") if c not in df]
    if missing:
        raise InputError(f"{what}: no point geometry and no {'/'.join(missing)} column")
    return df["lon"].to_numpy(float), df["lat"].to_numpy(float)


def site_frame(df, what: str) -> gpd.GeoDataFrame:
    """A site list as site_id, technology, name, lon, lat, capex_wan, geometry (EPSG:4326)."""
    missing = [c for c in ("site_id", "technology") if c not in df]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}")
    ids = str_ids(df["site_id"])
    codes, ok = normalise_technology(df["technology"])
    if not ok.all():
        bad = pd.Series(df["technology"]).iloc[np.flatnonzero(~ok)[:3]].tolist()
        raise InputError(f"{what}: unknown technology {', '.join(map(repr, bad))}; use {ALLOWED_TEXT}",
                         column="technology")
    # a site may host several technologies (co-location): a station is (site_id, technology)
    dup = pd.DataFrame({"i": ids, "t": codes}).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(f"{what}: duplicate station(s) (same site id and technology): "
                         f"{', '.join(sorted(set(ids[dup]))[:5])}", column="site_id")
    lon, lat = lonlat(df, what)
    names = df["name"].to_numpy(dtype=object) if "name" in df else ids
    names = np.array([n if isinstance(n, str) and n.strip() else i for n, i in zip(names, ids)], dtype=object)
    capex = (pd.to_numeric(df["capex_wan"], errors="coerce").to_numpy(float) if "capex_wan" in df
             else np.full(len(ids), np.nan))
    return gpd.GeoDataFrame(
        {"site_id": ids, "technology": codes, "name": names, "lon": lon, "lat": lat, "capex_wan": capex},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def metric_xy(lon, lat, crs: str) -> np.ndarray:
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


def _plain(v):
    """A table cell as a JSON value (numpy scalars unwrapped; NaN/inf/NA → None)."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    return v


def records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


def _map_keys(ids, techs, shared: set) -> np.ndarray:
    """Map ids: the site id, or ``id [technology]`` for an id listed with several technologies."""
    ids = np.asarray(ids, dtype=object)
    techs = np.asarray(techs, dtype=object)
    return np.array([f"{i} [{t}]" if i in shared else i for i, t in zip(ids, techs)], dtype=object)


def dual_map(sites_a, sites_b, status, label_a, label_b, language, basemap, roads):
    """:func:`planner.maps.compare_map` with the match table's statuses (moved is drawn as kept).

    compare_map keys statuses by site id, so an id listed with several technologies (a
    co-located site, or a technology change) is shown as ``id [technology]``.
    """
    both = pd.concat([sites_a[["site_id", "technology"]], sites_b[["site_id", "technology"]]])
    n_tech = both.drop_duplicates().groupby("site_id").size()
    shared = set(n_tech.index[n_tech > 1])
    ma = sites_a.assign(site_id=_map_keys(sites_a.site_id, sites_a.technology, shared))
    mb = sites_b.assign(site_id=_map_keys(sites_b.site_id, sites_b.technology, shared))
    paired = status.status.isin(["kept", "moved"]).to_numpy()
    in_a, in_b = status.site_id_a.notna().to_numpy(), status.site_id_b.notna().to_numpy()
    st = pd.concat([
        pd.DataFrame({"site_id": _map_keys(status.site_id_a[in_a], status.technology[in_a], shared),
                      "status": np.where(paired[in_a], "kept", "removed")}),
        pd.DataFrame({"site_id": _map_keys(status.site_id_b[in_b], status.technology[in_b], shared),
                      "status": np.where(paired[in_b], "kept", "added")}),
    ], ignore_index=True).drop_duplicates("site_id")
    return compare_map(ma, mb, status=st, label_a=label_a, label_b=label_b, language=language,
                       basemap=basemap, roads=roads)
