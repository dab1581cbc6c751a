"""Reading a candidate site list (CSV, Excel, GIS) for comparison."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._headers import find_column
from planner.compare._common import ALLOWED_TEXT, CAPEX_COLUMN_ALIASES, TECHNOLOGY_COLUMN_ALIASES, normalise_technology
from planner.errors import InputError
from planner.sites import STANDARD_COLUMNS, read_sites


def read_site_list(path, coord_system: str = "wgs84", **kwargs) -> gpd.GeoDataFrame:
    """Read a candidate site list with a technology per site.

    Parsing (encodings, Excel, GIS layers, column aliases, coordinate systems, row numbers in
    errors) is :func:`planner.sites.read_sites` with ``kind="candidate"``; this adds the
    technology column and the optional capex.

    Parameters
    ----------
    path : str or Path
        CSV / XLSX / GIS point layer with an id, coordinates and a technology column named
        ``technology`` / ``tech`` / ``type`` / ``类型`` (also ``技术``, ``站点类型``). Values
        ``h2`` | ``hpc`` | ``pv_storage`` | ``plant``, any case, or in Chinese: 加氢站 → h2,
        大功率充电 / 超充 → hpc, 光储充 → pv_storage, 工厂 → plant. An optional ``capex_wan`` /
        ``capex`` / ``投资(万元)`` column gives the station's capex in 万元 (blank = the
        scenario's per-station capex of its technology).
    coord_system : {"wgs84", "gcj02", "bd09"}
        System of the coordinates in the file.
    **kwargs
        Passed to :func:`planner.sites.read_sites` (``id_column``, ``sheet``, ``layer``...).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, file order: ``site_id`` (str), ``technology``, ``name``, ``lon``, ``lat``
        (WGS-84), ``capex_wan`` (float, NaN when not given), geometry (Points). ``attrs``
        keeps ``source`` (the path).

    Raises
    ------
    InputError
        One line naming the file (and row and column where known): anything
        :func:`~planner.sites.read_sites` refuses, a missing technology column, an unknown or
        blank technology (listing the allowed values), a negative or non-numeric capex.
    """
    path = Path(path)
    kwargs.setdefault("unique_ids", False)   # a site may host several technologies
    gdf = read_sites(path, kind="candidate", coord_system=coord_system, **kwargs)
    word = gdf.attrs.get("row_word", "row")
    rows = gdf["source_row"].to_numpy()

    def error(message, pos, column):
        if word == "row":
            return InputError(message, path=path, row=int(rows[pos]), column=column)
        return InputError(f"{word} {int(rows[pos])}: {message}", path=path, column=column)

    # columns as named in the file: kept extra columns, plus the one read_sites took as category
    available: dict[str, pd.Series] = {
        c: gdf[c] for c in gdf.columns if c not in STANDARD_COLUMNS and c != gdf.geometry.name
    }
    cat_col = gdf.attrs.get("columns", {}).get("category")
    if cat_col is not None:
        available[cat_col] = gdf["category"]

    tech_col = find_column(available, TECHNOLOGY_COLUMN_ALIASES)
    if tech_col is None:
        found = [c for c in gdf.attrs.get("columns", {}).values()] + [c for c in available if c != cat_col]
        raise InputError(f"required column 'technology' not found (looked for technology, tech, type, 类型); "
                         f"columns found: {', '.join(map(str, found))}", path=path)
    raw = available[tech_col]
    codes, ok = normalise_technology(raw)
    if not ok.all():
        pos = int(np.flatnonzero(~ok)[0])
        value = raw.iloc[pos]
        what = ("technology is blank" if value is None or (isinstance(value, float) and np.isnan(value))
                or not str(value).strip() else f"unknown technology {str(value).strip()!r}")
        more = int((~ok).sum()) - 1
        extra = f" ({more} more row(s) like this)" if more else ""
        raise error(f"{what}; use {ALLOWED_TEXT}{extra}", pos, tech_col)
    station = pd.DataFrame({"i": gdf["site_id"].astype(str).to_numpy(), "t": codes})
    dup = np.flatnonzero(station.duplicated(keep="first").to_numpy())
    if len(dup):
        pos = int(dup[0])
        raise error(f"duplicate station: site id {station['i'].iloc[pos]!r} with technology "
                    f"{codes[pos]!r} is listed twice", pos, tech_col)

    capex = np.full(len(gdf), np.nan)
    capex_col = find_column({c: s for c, s in available.items() if c != tech_col}, CAPEX_COLUMN_ALIASES)
    if capex_col is not None:
        txt = available[capex_col].astype(object).where(available[capex_col].notna(), "")
        txt = txt.astype(str).str.normalize("NFKC").str.replace(",", "", regex=False).str.strip()
        blank = (txt == "").to_numpy()
        capex = pd.to_numeric(txt.where(~blank, None), errors="coerce").to_numpy(float, na_value=np.nan)
        bad = ~blank & ~np.isfinite(capex)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise error(f"capex is not a number: {available[capex_col].iloc[pos]!r}", pos, capex_col)
        neg = np.flatnonzero(capex < 0)
        if len(neg):
            raise error(f"capex must not be negative: {capex[neg[0]]:g}", int(neg[0]), capex_col)

    out = gpd.GeoDataFrame(
        {"site_id": gdf["site_id"].astype(str).to_numpy(dtype=object), "technology": codes,
         "name": gdf["name"].to_numpy(dtype=object), "lon": gdf["lon"].to_numpy(float),
         "lat": gdf["lat"].to_numpy(float), "capex_wan": capex},
        geometry=gdf.geometry.values, crs="EPSG:4326")
    out.attrs = {"source": str(path), "row_word": word, "source_rows": rows.tolist(),
                 "technology_column": tech_col, "capex_column": capex_col}
    return out
