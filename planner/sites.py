"""Reading plant, supplier and candidate-site lists into a standard GeoDataFrame.

:func:`read_sites` accepts what planners actually receive — CSV exported from Excel (UTF-8,
UTF-8 with BOM, GBK/GB18030, UTF-16), ``.xlsx`` workbooks, and point layers (GeoPackage,
GeoJSON, Shapefile, any CRS) — finds the columns by name (English or Chinese aliases, any
case), validates every value, converts GCJ-02 / BD-09 coordinates to WGS-84 and returns one
row per site. Every problem is an :class:`~planner.errors.InputError` with a one-line
message naming the file, the row (spreadsheet numbering: header = row 1, first data row =
row 2; ``feature N`` for GIS layers) and the column.

:func:`check_in_area` rejects sites outside the road-network bounds;
:func:`suggest_coord_system` / :func:`warn_if_wrong_system` detect a wrongly declared
coordinate system by measuring how far the points fall from the road network.

This module only reads; input files are never modified.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._headers import name_variants, norm
from planner.coords import normalise_system, out_of_china, to_wgs84
from planner.errors import InputError
from planner.site_files import (
    ALIAS_NORM,
    COLUMN_ALIASES,
    COMBINED_NORM,
    SYSTEM_TAGS,
    SiteSource,
    format_list,
    read_source,
)

__all__ = [
    "KINDS",
    "STANDARD_COLUMNS",
    "COLUMN_ALIASES",
    "read_sites",
]

#: Accepted values of ``kind``.
KINDS: tuple[str, ...] = ("supplier", "plant", "candidate")

#: Columns every returned GeoDataFrame starts with (then the kept extra columns, then geometry).
STANDARD_COLUMNS: tuple[str, ...] = (
    "site_id", "name", "lon", "lat", "weight", "plants", "category", "tier", "source_row",
)

_DEFAULT_REQUIRED = ("site_id", "lon", "lat")
_PLANT_SEPARATORS = r"\s*[;,、|；，｜/]\s*"

# China box, and the same box with lon/lat swapped (for the "did you swap?" hint).
_CHINA = (72.004, 0.8293, 137.8347, 55.8271)


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------

def _short(value, width: int = 30) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


# ------------------------------------------------------------------------------------------
# column matching
# ------------------------------------------------------------------------------------------

def _match_field(columns: Sequence[str], field: str, taken: set[str]) -> str | None:
    aliases = ALIAS_NORM[field]
    best, best_rank = None, len(aliases) + 1
    for col in columns:
        if col in taken:
            continue
        for v in name_variants(col, SYSTEM_TAGS):
            if v in aliases and aliases.index(v) < best_rank:
                best, best_rank = col, aliases.index(v)
    return best


def _closest(columns: Sequence[str], wanted: Iterable[str]) -> str | None:
    by_norm = {norm(c): c for c in columns}
    best, best_ratio = None, 0.0
    for w in wanted:
        for hit in difflib.get_close_matches(norm(w), list(by_norm), n=1, cutoff=0.6):
            ratio = difflib.SequenceMatcher(None, norm(w), hit).ratio()
            if ratio > best_ratio:
                best, best_ratio = by_norm[hit], ratio
    return best


def _explicit(src: SiteSource, given: str, what: str) -> str:
    columns = list(src.table.columns)
    if given in columns:
        return given
    folded = [c for c in columns if norm(c) == norm(given)]
    if folded:
        return folded[0]
    close = _closest(columns, [given])
    hint = f"; did you mean '{close}'?" if close else ""
    raise InputError(f"{what} column '{given}' not found; columns found: "
                     f"{format_list(columns, 20)}{hint}", path=src.path)


def _missing_column(src: SiteSource, field: str) -> InputError:
    columns = list(src.table.columns)
    aliases = COLUMN_ALIASES[field]
    close = _closest(columns, aliases)
    hint = f"; did you mean '{close}'? (pass {_ARG[field]}='{close}')" if close else (
        f"; name the column with {_ARG[field]}=...")
    return InputError(
        f"required column '{field}' not found (looked for {', '.join(aliases[:6])}…); columns "
        f"found: {format_list(columns, 20)}{hint}", path=src.path)


_ARG = {"site_id": "id_column", "name": "name_column", "lon": "lon_column",
        "lat": "lat_column", "weight": "weight_column", "plants": "plants_column",
        "category": "category column", "tier": "tier column"}


# ------------------------------------------------------------------------------------------
# value parsing (vectorised over the column)
# ------------------------------------------------------------------------------------------

def _text(series: pd.Series, excel: bool) -> pd.Series:
    """Cells as stripped strings ('' for missing); integral Excel numbers without '.0'."""
    s = series.astype(object).where(series.notna(), "")
    txt = s.astype(str).str.strip()
    if excel:
        txt = txt.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    return txt


def _numbers(src: SiteSource, column: str, what: str, allow_blank: bool = False) -> np.ndarray:
    """Parse a numeric column; InputError naming the first bad rows."""
    raw = src.table[column]
    txt = _text(raw, excel=False).str.normalize("NFKC").str.replace("°", "", regex=False)
    txt = txt.str.strip()
    blank = (txt == "").to_numpy()
    values = pd.to_numeric(txt.where(~blank, None), errors="coerce").to_numpy(dtype=float,
                                                                              na_value=np.nan)
    bad_text = ~blank & ~np.isfinite(values)
    if bad_text.any():
        pos = np.flatnonzero(bad_text)
        shown = ", ".join(_short(raw.iloc[p]) for p in pos[:3])
        raise src.error(f"{what} is not a finite number: {shown}", positions=pos, column=column)
    if blank.any() and not allow_blank:
        pos = np.flatnonzero(blank)
        raise src.error(f"{what} is blank", positions=pos, column=column)
    return values


def _split_combined(src: SiteSource, column: str) -> tuple[np.ndarray, np.ndarray]:
    txt = _text(src.table[column], excel=False).str.normalize("NFKC")
    parts = txt.str.split(r"\s*[,;\s]\s*", n=1, expand=True, regex=True)
    if parts.shape[1] < 2:
        parts[1] = None
    lon_t = parts[0].fillna("").str.strip()
    lat_t = parts[1].fillna("").str.strip()
    lon = pd.to_numeric(lon_t.where(lon_t != "", None), errors="coerce").to_numpy(float, na_value=np.nan)
    lat = pd.to_numeric(lat_t.where(lat_t != "", None), errors="coerce").to_numpy(float, na_value=np.nan)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        pos = np.flatnonzero(bad)
        shown = ", ".join(_short(src.table[column].iloc[p]) for p in pos[:3])
        raise src.error(f"expected 'lon,lat' coordinates, got {shown}", positions=pos,
                        column=column)
    return lon, lat


def _check_coordinates(src: SiteSource, lon: np.ndarray, lat: np.ndarray,
                       lon_col: str | None, lat_col: str | None) -> None:
    """Range and swapped-axis checks on the coordinates as given in the file."""
    lon_ok = np.abs(lon) <= 180
    lat_ok = np.abs(lat) <= 90
    swap_hint = " did you swap lon and lat?"
    bad = np.flatnonzero(~lat_ok)
    if len(bad):
        swapped = np.all(np.abs(lon[bad]) <= 90) and np.all(np.abs(lat[bad]) <= 180)
        shown = ", ".join(f"{v:g}" for v in lat[bad[:3]])
        raise src.error(f"latitude out of range [-90, 90]: {shown};"
                        + (swap_hint if swapped else " check the column mapping"),
                        positions=bad, column=lat_col)
    bad = np.flatnonzero(~lon_ok)
    if len(bad):
        shown = ", ".join(f"{v:g}" for v in lon[bad[:3]])
        raise src.error(f"longitude out of range [-180, 180]: {shown}", positions=bad,
                        column=lon_col)
    zero = np.flatnonzero((lon == 0) & (lat == 0))
    if len(zero):
        raise src.error("coordinates are (0, 0), which usually means a failed geocode or a "
                        "missing value", positions=zero,
                        column=f"{lon_col}/{lat_col}" if lon_col and lat_col else None)
    inside = ~out_of_china(lon, lat)
    inside_swapped = ~out_of_china(lat, lon)
    looks_swapped = ~inside & inside_swapped
    if looks_swapped.all():
        raise src.error(
            f"every point lies outside China but would lie inside it with lon and lat exchanged "
            f"(first: lon {lon[0]:g}, lat {lat[0]:g});{swap_hint}",
            column=f"{lon_col}/{lat_col}" if lon_col and lat_col else None)
    if looks_swapped.any() and inside.mean() > 0.5:
        pos = np.flatnonzero(looks_swapped)
        raise src.error(
            f"lon {lon[pos[0]]:g}, lat {lat[pos[0]]:g} lies outside China while most sites are "
            f"inside;{swap_hint}", positions=pos,
            column=f"{lon_col}/{lat_col}" if lon_col and lat_col else None)


def _ids(src: SiteSource, column: str | None, kind: str, unique: bool = True) -> np.ndarray:
    if column is None:
        return np.array([f"{kind}_{r}" for r in src.rows], dtype=object)
    txt = _text(src.table[column], excel=src.excel or src.row_word == "feature")
    blank = (txt == "").to_numpy()
    if blank.any():
        raise src.error("site id is blank", positions=np.flatnonzero(blank), column=column)
    ids = txt.to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if unique and dup.any():
        first = np.flatnonzero(dup)[0]
        same = np.flatnonzero(ids == ids[first])
        n_ids = pd.Series(ids[dup]).nunique()
        more = f" ({n_ids - 1} other ids are duplicated too)" if n_ids > 1 else ""
        word = "features" if src.row_word == "feature" else "rows"
        raise InputError(f"duplicate site id {ids[first]!r} in {word} "
                         f"{format_list(src.rows[same])}{more}", path=src.path, column=column)
    return ids


def _plants(src: SiteSource, column: str | None) -> np.ndarray:
    out = np.empty(len(src.table), dtype=object)
    if column is None:
        out[:] = [()] * len(out)
        return out
    txt = _text(src.table[column], excel=True).str.normalize("NFKC")
    parts = txt.str.split(_PLANT_SEPARATORS, regex=True)
    out[:] = [tuple(p for p in lst if p) for lst in parts]
    return out


def _tier(src: SiteSource, column: str) -> pd.Series:
    txt = _text(src.table[column], excel=True)
    blank = txt == ""
    num = pd.to_numeric(txt.where(~blank, None), errors="coerce")
    integral = num.notna() & (num == np.floor(num))
    if bool((integral | blank).all()):
        return num.astype("Int64")
    return txt.astype(object).where(~blank, None)


def _extra(series: pd.Series, from_text: bool) -> pd.Series:
    """Kept extra column: numbers become numeric unless that would lose leading zeros."""
    if not from_text:  # typed cells (Excel, GIS): let pandas infer, keep None for blanks
        inferred = series.infer_objects().reset_index(drop=True)
        if pd.api.types.is_string_dtype(inferred.dtype) or inferred.dtype == object:
            return inferred.astype(object).where(inferred.notna(), None)
        return inferred
    txt = _text(series, excel=False)
    blank = txt == ""
    num = pd.to_numeric(txt.where(~blank, None), errors="coerce")
    leading_zero = txt.str.match(r"^-?0\d").any()
    if not leading_zero and bool((num.notna() | blank).all()) and not bool(blank.all()):
        if blank.any() or bool((num % 1 != 0).any()):
            return num.astype(float).reset_index(drop=True)
        return num.astype("int64").reset_index(drop=True)
    return txt.astype(object).where(~blank, None)


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------

def read_sites(
    path,
    kind: str = "supplier",
    id_column: str | None = None,
    name_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    coord_system: str = "wgs84",
    weight_column: str | None = None,
    plants_column: str | None = None,
    sheet: str | int | None = None,
    layer: str | int | None = None,
    required_columns: Sequence[str] | None = None,
    *,
    polygon_points: bool = False,
    unique_ids: bool = True,
    address_column: str | None = None,
    geocode=None,
) -> gpd.GeoDataFrame:
    """Read a plant / supplier / candidate list into a standard GeoDataFrame (EPSG:4326).

    Parameters
    ----------
    path : str or Path
        ``.csv`` / ``.txt`` / ``.tsv`` (encoding sniffed: UTF-8, UTF-8-BOM, GBK/GB18030, UTF-16;
        delimiter sniffed: comma, tab, semicolon, pipe), ``.xlsx`` / ``.xlsm``, or a point
        layer (``.gpkg``, ``.geojson``, ``.shp``, ...) in any CRS. Tables may have title rows
        above the header; the header is the first of the first ten non-blank rows that names
        at least two standard fields.
    kind : {"supplier", "plant", "candidate"}
        What the file lists; used for generated ids and to ignore a ``plant`` column in plant
        lists (there it names the plant itself, not served plants).
    id_column, name_column, lon_column, lat_column, weight_column, plants_column : str, optional
        Explicit column names (matched exactly, then ignoring case/spacing). Without them the
        columns are found through :data:`COLUMN_ALIASES` (``id``/``编号``, ``name``/``名称``,
        ``lon``/``lng``/``x``/``经度``, ``lat``/``y``/``纬度``, ``weight``/``deliveries``/
        ``权重``, ``plants``/``served_plant``/``服务工厂`` ...). A single ``location``/
        ``经纬度`` column holding ``"lon,lat"`` text is accepted when lon/lat columns are absent.
        GIS layers take coordinates from their Point geometry unless lon/lat columns are given
        explicitly.
    coord_system : {"wgs84", "gcj02", "bd09"}
        System of the coordinates in the file (aliases ``WGS-84``, ``GCJ-02``, ``BD-09``).
        Gaode/AMap and Tencent give GCJ-02, Baidu gives BD-09. For GIS layers it applies after
        reprojection to EPSG:4326.
    sheet : str or int, optional
        Excel sheet name or 0-based index (default: the first sheet); a digit string that is
        not a sheet name is taken as an index.
    layer : str or int, optional
        Layer of a multi-layer GIS file (default: the first layer).
    required_columns : sequence of str, optional
        Standard fields that must be present, default ``("site_id", "lon", "lat")``.
        Coordinates are always needed. When ``site_id`` is not required and absent, ids
        ``"<kind>_<row>"`` are generated.
    polygon_points : bool
        GIS layers only: accept Polygon / LineString features (e.g. OSM parking areas as
        charging candidates) and place each site at its representative point
        (``shapely.point_on_surface``, always inside the polygon). Default: such features are
        an error.
    unique_ids : bool
        Refuse repeated site ids (default). Station lists where one site hosts several
        technologies pass False and check (site id, technology) themselves.
    address_column : str, optional
        A column of addresses (地址). Rows without coordinates (or every row, when the file
        has no coordinate columns) are placed by ``geocode``.
    geocode : callable, optional
        ``geocode(addresses) -> DataFrame`` with WGS-84 ``lon``, ``lat``, ``matched``,
        ``level``, ``low_precision`` per address (see :func:`planner.geocode.geocode_addresses`).
        Without it, rows that have only an address are an error naming them. Geocoded rows get
        ``geocode_level`` and ``geocode_low_precision`` columns.

    Notes
    -----
    Blank rows are skipped but counted, so ``source_row`` and error rows match what Excel
    shows; a quoted CSV cell containing a line break shifts the numbering of later rows by
    one per break. Ids and names are stripped of surrounding whitespace. Coordinates accept
    full-width digits and a trailing ``°``; degrees-minutes-seconds text is rejected.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, index 0..n-1 in file order, columns :data:`STANDARD_COLUMNS`, then the
        file's other columns (names unchanged; ``_src`` appended on a clash with a standard
        name), then ``geometry`` (Points at WGS-84 ``lon``/``lat``):

        - ``site_id`` (str, unique, stripped; integral Excel numbers without ``.0``)
        - ``name`` (str; the id when absent or blank)
        - ``lon``, ``lat`` (float, WGS-84 after conversion from ``coord_system``)
        - ``weight`` (float >= 0; 1.0 when there is no weight column)
        - ``plants`` (tuple of str plant ids, split on ``;`` ``,`` ``、`` ``|`` ``/``;
          ``()`` when none given)
        - ``category`` (str or None), ``tier`` (Int64 when all integral, else str or None);
          all None/NA when the file has no such column
        - ``source_row`` (int: spreadsheet row, or feature number for GIS layers)

        ``attrs`` holds ``source`` (path str), ``kind``, ``coord_system`` (declared,
        canonical), ``row_word`` ("row" or "feature") and ``columns`` (field -> file column).

    Raises
    ------
    InputError
        One line naming the file, row and column: missing/unreadable/corrupted/truncated
        file, empty file, missing required column (with the columns found and the closest
        name), blank or non-numeric coordinates, out-of-range or swapped coordinates, blank
        or duplicate ids, negative / blank / non-numeric weights, non-point geometries.
    CoordSystemError
        Unknown ``coord_system`` (a ValueError and PlannerError).
    """
    path = Path(path)
    system = normalise_system(coord_system)
    if kind not in KINDS:
        raise InputError(f"unknown site kind '{kind}'; use one of {', '.join(KINDS)}", path=path)
    required = tuple(_DEFAULT_REQUIRED if required_columns is None else required_columns)
    unknown = [c for c in required if c not in COLUMN_ALIASES]
    if unknown:
        raise InputError(f"unknown required column name(s) {', '.join(map(str, unknown))}; use "
                         f"standard names: {', '.join(COLUMN_ALIASES)}", path=path)
    if not path.exists():
        raise InputError("file not found", path=path)

    src = read_source(path, sheet, layer)
    columns = list(src.table.columns)

    # --- locate columns -------------------------------------------------------------------
    explicit = {"site_id": id_column, "name": name_column, "lon": lon_column, "lat": lat_column,
                "weight": weight_column, "plants": plants_column}
    mapping: dict[str, str | None] = {}
    taken: set[str] = set()
    for field, given in explicit.items():
        if given is not None:
            mapping[field] = _explicit(src, given, field)
            taken.add(mapping[field])
    use_geometry = src.geometry is not None and lon_column is None and lat_column is None
    for field in ("site_id", "lon", "lat", "name", "weight", "plants", "category", "tier"):
        if field in mapping:
            continue
        if field in ("lon", "lat") and use_geometry:
            mapping[field] = None
            continue
        if field == "plants" and kind == "plant":
            mapping[field] = None
            continue
        col = _match_field(columns, field, taken)
        mapping[field] = col
        if col is not None:
            taken.add(col)

    addr_col = None
    if address_column is not None:
        addr_col = _explicit(src, address_column, "address")
        taken.add(addr_col)
    combined = None
    if not use_geometry and (mapping["lon"] is None or mapping["lat"] is None):
        if mapping["lon"] is None and mapping["lat"] is None:
            combined = next((c for c in columns if c not in taken and
                             any(v in COMBINED_NORM for v in name_variants(c, SYSTEM_TAGS))), None)
        if combined is None and not (addr_col and mapping["lon"] is None and mapping["lat"] is None):
            raise _missing_column(src, "lon" if mapping["lon"] is None else "lat")
        if combined is not None:
            taken.add(combined)
    for field in required:
        if field in ("lon", "lat"):
            continue
        if mapping.get(field) is None:
            raise _missing_column(src, field)

    # --- coordinates ----------------------------------------------------------------------
    if use_geometry:
        lon, lat = _geometry_coords(src, polygon_points)
        lon_col = lat_col = None
    elif combined is not None:
        lon, lat = _split_combined(src, combined)
        lon_col = lat_col = combined
    elif mapping["lon"] is None:  # addresses only
        lon = lat = np.full(len(src.rows), np.nan)
        lon_col = lat_col = None
    else:
        lon_col, lat_col = mapping["lon"], mapping["lat"]
        lon = _numbers(src, lon_col, "longitude", allow_blank=addr_col is not None)
        lat = _numbers(src, lat_col, "latitude", allow_blank=addr_col is not None)
    need = ~(np.isfinite(lon) & np.isfinite(lat))
    if not need.all():
        # rows still to be geocoded take a given row's coordinates for the checks
        first = int(np.argmin(need))
        _check_coordinates(src, np.where(need, lon[first], lon), np.where(need, lat[first], lat), lon_col, lat_col)
    wlon, wlat = to_wgs84(np.where(need, 0.0, lon), np.where(need, 0.0, lat), system)
    wlon, wlat = np.asarray(wlon, dtype=float), np.asarray(wlat, dtype=float)
    geo = None
    if need.any():
        geo = _geocode_rows(src, addr_col, np.flatnonzero(need), geocode)
        wlon[need] = geo.lon.to_numpy(float)
        wlat[need] = geo.lat.to_numpy(float)

    # --- attributes -----------------------------------------------------------------------
    ids = _ids(src, mapping["site_id"], kind, unique_ids)
    if mapping["name"] is not None:
        names = _text(src.table[mapping["name"]], excel=src.excel).to_numpy(dtype=object)
        names = np.where(names == "", ids, names)
    else:
        names = ids.copy()
    if mapping["weight"] is not None:
        weights = _numbers(src, mapping["weight"], "weight")
        neg = np.flatnonzero(weights < 0)
        if len(neg):
            shown = ", ".join(f"{w:g}" for w in weights[neg[:3]])
            raise src.error(f"weight must not be negative: {shown}", positions=neg,
                            column=mapping["weight"])
    else:
        weights = np.ones(len(ids))
    plants = _plants(src, mapping["plants"])
    if mapping["category"] is not None:
        cat = _text(src.table[mapping["category"]], excel=True)
        category = cat.astype(object).where(cat != "", None).to_numpy()
    else:
        category = np.full(len(ids), None, dtype=object)
    tier = (_tier(src, mapping["tier"]).reset_index(drop=True) if mapping["tier"] is not None
            else pd.Series(pd.array([pd.NA] * len(ids), dtype="Int64")))

    out = pd.DataFrame({
        "site_id": pd.Series(ids, dtype=object),
        "name": pd.Series(names, dtype=object),
        "lon": wlon, "lat": wlat,
        "weight": weights.astype(float),
        "plants": pd.Series(plants, dtype=object),
        "category": pd.Series(category, dtype=object),
        "tier": tier,
        "source_row": src.rows.astype(np.int64),
    })
    if addr_col is not None:
        out["geocode_level"] = pd.Series([None] * len(out), dtype=object)
        out["geocode_low_precision"] = False
        if geo is not None:
            out.loc[need, "geocode_level"] = geo.level.to_numpy(object)
            out.loc[need, "geocode_low_precision"] = geo.low_precision.to_numpy(bool)
    used = {c for c in mapping.values() if c is not None} | ({combined} if combined else set())
    from_text = not src.excel and src.row_word == "row"
    for col in columns:
        if col in used:
            continue
        name = col
        while name in out.columns or name == "geometry":
            name = f"{name}_src"
        out[name] = _extra(src.table[col], from_text).reset_index(drop=True)
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(wlon, wlat), crs="EPSG:4326")
    gdf.attrs.update({
        "source": str(path), "kind": kind, "coord_system": system, "row_word": src.row_word,
        "columns": {k: v for k, v in mapping.items() if v is not None}
        | ({"lon/lat": combined} if combined else {}),
    })
    return gdf


def _geocode_rows(src: SiteSource, column: str | None, pos: np.ndarray, geocode) -> pd.DataFrame:
    """Place rows without coordinates by their address; InputError naming the rows that cannot be."""
    if column is None:
        raise src.error("coordinates are blank", positions=pos)
    addresses = _text(src.table[column], excel=src.excel).to_numpy(dtype=object)[pos]
    blank = np.flatnonzero(addresses == "")
    if len(blank):
        raise src.error("neither coordinates nor an address", positions=pos[blank], column=column)
    if geocode is None:
        raise src.error(f"{len(pos)} row(s) have an address but no coordinates: set a geocoder for this "
                        "list in the scenario (e.g. geocoder = \"amap\" with the key in AMAP_KEY) or add "
                        "lon/lat", positions=pos, column=column)
    geo = geocode([str(a) for a in addresses]).reset_index(drop=True)
    miss = np.flatnonzero(~geo.matched.to_numpy(bool))
    if len(miss):
        shown = ", ".join(_short(a) for a in addresses[miss[:3]])
        raise src.error(f"the geocoder found no match for {shown}", positions=pos[miss], column=column)
    return geo


def _geometry_coords(src: SiteSource, polygon_points: bool = False) -> tuple[np.ndarray, np.ndarray]:
    import shapely

    geom = src.geometry
    arr = geom.to_numpy()
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    if missing.any():
        raise src.error("feature has no geometry (pass lon_column/lat_column to use attribute "
                        "columns instead)", positions=np.flatnonzero(missing))
    if polygon_points:
        arr = shapely.point_on_surface(arr)
    types = shapely.get_type_id(arr)
    single_multi = (types == 4) & (shapely.get_num_geometries(arr) == 1)
    arr = np.where(single_multi, shapely.get_geometry(arr, 0), arr)
    types = shapely.get_type_id(arr)
    bad = np.flatnonzero(types != 0)
    if len(bad):
        kinds = sorted(set(shapely.get_type_id(arr[bad]).tolist()))
        names = {1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                 5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
        raise src.error(f"geometry must be a Point, got {', '.join(names.get(k, str(k)) for k in kinds)}"
                        f" (pass polygon_points=True to use a point inside each feature, or "
                        f"lon_column/lat_column)",
                        positions=bad, column="geometry")
    return shapely.get_x(arr).astype(float), shapely.get_y(arr).astype(float)


