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

import csv
import difflib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._headers import name_variants, norm
from planner._io import VECTOR_SUFFIXES
from planner.coords import normalise_system, out_of_china, to_wgs84
from planner.errors import InputError

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

#: Column-name aliases per standard field, best first. Matching ignores case, spaces, ``_``,
#: ``-``, ``.``, full-width forms, a bracketed suffix (``经度(GCJ-02)``) and a trailing
#: coordinate-system tag (``lng_gcj02``).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "site_id": (
        "site_id", "id", "siteid", "code", "supplier_id", "plant_id", "candidate_id",
        "supplier_code", "plant_code", "fid_id", "编号", "代码", "编码", "站点编号",
        "供应商编号", "供应商代码", "工厂编号", "工厂代码", "候选点编号", "序号",
    ),
    "name": (
        "name", "site_name", "supplier_name", "plant_name", "candidate_name", "company",
        "名称", "名字", "站点名称", "供应商名称", "供应商", "企业名称", "公司名称", "工厂名称",
        "候选点名称", "地点",
    ),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度", "东经"),
    "lat": ("lat", "latitude", "y", "纬度", "北纬"),
    "weight": (
        "weight", "deliveries", "annual_value", "value", "demand", "volume", "trips",
        "权重", "年配送量", "配送量", "配送次数", "年采购额", "采购额", "需求量",
    ),
    "plants": (
        "plants", "plant", "served_plant", "served_plants", "plant_ids", "serves",
        "customer_plants", "服务工厂", "配套工厂", "工厂", "主机厂", "服务主机厂",
    ),
    "category": ("category", "type", "class", "commodity", "类别", "类型", "品类", "分类"),
    "tier": ("tier", "level", "层级", "级别", "供应商层级"),
}

#: Single columns holding "lon,lat" text (AMap API style), used when lon/lat columns are absent.
_COMBINED_ALIASES = ("location", "lnglat", "lonlat", "lng_lat", "lon_lat", "coordinates",
                     "coordinate", "coord", "坐标", "经纬度", "位置坐标")

_DEFAULT_REQUIRED = ("site_id", "lon", "lat")
_TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_PLANT_SEPARATORS = r"\s*[;,、|；，｜/]\s*"
_SYSTEM_TAGS = ("wgs84", "gcj02", "bd09", "wgs", "gcj", "bd", "gps", "baidu", "gaode", "amap")
_MAX_LISTED = 5

# China box, and the same box with lon/lat swapped (for the "did you swap?" hint).
_CHINA = (72.004, 0.8293, 137.8347, 55.8271)


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------

_ALIAS_NORM = {field: [norm(a) for a in aliases] for field, aliases in COLUMN_ALIASES.items()}
_COMBINED_NORM = [norm(a) for a in _COMBINED_ALIASES]


def _excel_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _fmt_list(items: Sequence, limit: int = _MAX_LISTED) -> str:
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" (and {len(items) - limit} more)"


def _short(value, width: int = 30) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


@dataclass
class _Source:
    """Raw cells of a sites file before validation."""

    path: Path
    table: pd.DataFrame  # object cells, original header names, index = positions 0..n-1
    rows: np.ndarray  # spreadsheet row (tables) or feature number (layers) per table row
    row_word: str  # "row" or "feature"
    geometry: gpd.GeoSeries | None = None  # layers: EPSG:4326 geometries aligned with table
    excel: bool = False

    def where(self, positions) -> str:
        labels = self.rows[np.asarray(positions, dtype=int)]
        word = self.row_word if len(labels) == 1 else self.row_word + "s"
        return f"{word} {_fmt_list(labels)}"

    def error(self, message: str, positions=None, column=None) -> InputError:
        """InputError naming the file, the row(s) and the column."""
        if positions is not None and len(positions) == 1 and self.row_word == "row":
            return InputError(message, path=self.path, row=int(self.rows[positions[0]]), column=column)
        if positions is not None and len(positions):
            message = f"{self.where(positions)}: {message}"
        return InputError(message, path=self.path, column=column)


# ------------------------------------------------------------------------------------------
# file readers
# ------------------------------------------------------------------------------------------

def _decode(path: Path, data: bytes) -> str:
    """Decode CSV bytes: BOM-marked UTF-8/UTF-16, else UTF-8, else GB18030 (superset of GBK)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("file starts with a UTF-16 mark but is not valid UTF-16 "
                             "(truncated or corrupted?)", path=path) from None
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError("this is an Excel workbook, not a CSV text file; save it as .xlsx "
                         "(or export it as CSV) and pass that file", path=path)
    if b"\x00" in data[:4096]:
        raise InputError("file contains binary data (NUL bytes), not CSV text", path=path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            row = data.count(b"\n") + 1
            raise InputError("file ends in the middle of a character: the file looks "
                             "truncated (incomplete last row)", path=path, row=row) from None
    else:
        # short GBK text can also be valid UTF-8 (e.g. 庄 = D7 AF = Hebrew U+05EF): prefer GBK
        # when it reads as Chinese and the UTF-8 reading does not
        if _chinese_score(text) < 1.0:
            try:
                gbk = data.decode("gb18030")
            except UnicodeDecodeError:
                return text
            return gbk if _chinese_score(gbk) > _chinese_score(text) else text
        return text
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise InputError("cannot decode the text: it is neither UTF-8 nor GBK/GB18030; save "
                         "the file as 'CSV UTF-8'", path=path, row=row) from None


def _chinese_score(text: str) -> float:
    """Share of the non-ASCII characters that are CJK ideographs, CJK/full-width punctuation.

    1.0 when the text is pure ASCII (nothing to decide).
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    codes = codes[codes > 127]
    if codes.size == 0:
        return 1.0
    cjk = (((codes >= 0x4E00) & (codes <= 0x9FFF)) | ((codes >= 0x3400) & (codes <= 0x4DBF))
           | ((codes >= 0x3000) & (codes <= 0x303F)) | ((codes >= 0xFF00) & (codes <= 0xFFEF))
           | (codes == 0x00B0) | (codes == 0x00B7) | ((codes >= 0x2010) & (codes <= 0x2027)))
    return float(cjk.mean())


def _sniff_delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _read_csv(path: Path) -> _Source:
    data = path.read_bytes()
    if not data.strip():
        raise InputError("file is empty (no header, no rows)", path=path)
    text = _decode(path, data)
    delimiter = _sniff_delimiter(path, text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc}); an unclosed quote usually means the file was "
                         f"cut short or a cell contains a stray '\"'", path=path,
                         row=reader.line_num) from None
    return _records_to_source(path, records, text_ends_with_newline=text.endswith(("\n", "\r")))


def _records_to_source(path: Path, records: list[list], text_ends_with_newline: bool = True,
                       excel: bool = False) -> _Source:
    """Turn raw records (first = header candidate) into a _Source with row numbers."""
    if not records:
        raise InputError("file is empty (no header, no rows)", path=path)
    lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    width = int(lengths.max()) if len(lengths) else 0
    frame = pd.DataFrame(
        {j: pd.Series(list(col), dtype=object) for j, col in enumerate(_transpose(records, width))}
    )
    cell_blank = _blank_mask(frame)
    blank = cell_blank.all(axis=1).to_numpy()
    header_pos = _find_header_row(frame, blank)
    header_cells = frame.iloc[header_pos].tolist()
    data_mask = np.arange(len(frame)) > header_pos
    data_mask &= ~blank
    data = frame.loc[data_mask].reset_index(drop=True)
    rows = np.flatnonzero(data_mask) + 1  # spreadsheet numbering: record k is row k+1

    # drop trailing columns with no header and no data (e.g. a trailing comma)
    ncols = len(header_cells) if excel else int(lengths[header_pos])
    while ncols and _is_blank(header_cells[ncols - 1]) and bool(
            _blank_mask(data[[ncols - 1]]).to_numpy().all()):
        ncols -= 1
    if not excel:
        lens = lengths[data_mask]
        short = np.flatnonzero(lens < ncols)
        extra_filled = ~_blank_mask(data.iloc[:, ncols:]).all(axis=1).to_numpy()
        long_ = np.flatnonzero((lens > ncols) & extra_filled)
        if len(short) or len(long_):
            bad = short if len(short) else long_
            p = int(bad[0])
            truncated = (len(short) and p == len(data) - 1 and not text_ends_with_newline)
            hint = ("the file looks truncated (cut in the middle of the last row)" if truncated
                    else "malformed row (a missing or extra delimiter, or an unquoted comma "
                         "inside a cell?)")
            raise InputError(f"has {int(lens[p])} fields but the header has {ncols}: {hint}",
                             path=path, row=int(rows[p]))
    data = data.iloc[:, :ncols]
    data.columns = _header_names(header_cells[:ncols])
    if data.empty:
        raise InputError(f"no data rows (only a header: {_fmt_list(data.columns, 12)})", path=path)
    return _Source(path=path, table=data, rows=rows, row_word="row", excel=excel)


def _transpose(records: list[list], width: int):
    from itertools import zip_longest

    if not records:
        return []
    return list(zip_longest(*records, fillvalue=None)) if width else []


def _blank_mask(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame: cell missing or whitespace only (column-wise vectorised)."""
    return frame.apply(lambda c: c.isna() | (c.astype(str).str.strip() == ""))


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def _header_names(cells: Sequence) -> list[str]:
    names: list[str] = []
    for j, cell in enumerate(cells):
        base = f"column {_excel_letter(j)}" if _is_blank(cell) else " ".join(str(cell).split())
        if isinstance(cell, float) and float(cell).is_integer():
            base = str(int(cell))
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}.{k}"
        names.append(name)
    return names


def _header_score(cells: Sequence) -> int:
    """How many standard fields a candidate header row names."""
    found = set()
    for cell in cells:
        if _is_blank(cell):
            continue
        variants = name_variants(cell, _SYSTEM_TAGS)
        for field, aliases in _ALIAS_NORM.items():
            if any(v in aliases for v in variants):
                found.add(field)
        if any(v in _COMBINED_NORM for v in variants):
            found.update(("lon", "lat"))
    return len(found)


def _find_header_row(frame: pd.DataFrame, blank: np.ndarray) -> int:
    """First non-blank row, unless a later one (within 10) looks like the real header.

    Chinese exports often start with a title row ("供应商名单") above the header.
    """
    candidates = np.flatnonzero(~blank)[:10]
    if not len(candidates):
        return 0
    first = int(candidates[0])
    if _header_score(frame.iloc[first].tolist()) >= 2:
        return first
    for pos in candidates[1:]:
        if _header_score(frame.iloc[int(pos)].tolist()) >= 2:
            return int(pos)
    return first


def _read_excel(path: Path, sheet) -> _Source:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - declared dependency
        raise InputError("reading .xlsx needs the openpyxl package", path=path) from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, XML errors... for broken files
        raise InputError(f"cannot open the Excel workbook (corrupted or truncated file?): "
                         f"{type(exc).__name__}: {exc}", path=path) from None
    try:
        names = wb.sheetnames
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise InputError(f"sheet index {sheet} out of range; the workbook has sheets: "
                                 f"{', '.join(names)}", path=path)
            ws = wb.worksheets[sheet]
        elif str(sheet) in names:
            ws = wb[str(sheet)]
        elif str(sheet).strip().isdigit() and int(sheet) < len(names):  # "1" from a TOML file
            ws = wb.worksheets[int(sheet)]
        else:
            close = difflib.get_close_matches(str(sheet), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise InputError(f"no sheet named '{sheet}'; sheets are: {', '.join(names)}{hint}",
                             path=path)
        try:
            records = [list(r) for r in ws.iter_rows(values_only=True)]
        except Exception as exc:
            raise InputError(f"cannot read sheet '{ws.title}' (corrupted workbook?): "
                             f"{type(exc).__name__}: {exc}", path=path) from None
    finally:
        wb.close()
    if not records or all(all(_is_blank(v) for v in r) for r in records):
        raise InputError(f"sheet '{ws.title}' is empty (no header, no rows)", path=path)
    # Excel returns "" rarely; treat blank strings as missing
    records = [[None if isinstance(v, str) and not v.strip() else v for v in r] for r in records]
    return _records_to_source(path, records, excel=True)


def _read_vector(path: Path, layer) -> _Source:
    import pyogrio

    try:
        layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:
        raise InputError(f"cannot open the GIS file (corrupted, truncated or unsupported "
                         f"format?): {type(exc).__name__}: {' '.join(str(exc).split())}",
                         path=path) from None
    if layer is not None and str(layer) not in layers and not isinstance(layer, int):
        raise InputError(f"no layer named '{layer}'; layers are: {', '.join(layers)}", path=path)
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer if layer is not None else layers[0]
                                     if layers else None)
    except Exception as exc:
        raise InputError(f"cannot read the GIS layer (corrupted or truncated file?): "
                         f"{type(exc).__name__}: {' '.join(str(exc).split())}", path=path) from None
    if len(gdf) == 0:
        raise InputError("layer has no features (no rows)", path=path)
    rows = np.arange(1, len(gdf) + 1)
    geometry = None
    if isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry.notna().any():
        geom = gdf.geometry
        if geom.crs is None:
            b = geom.total_bounds
            if not (-180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90):
                raise InputError("layer has no CRS and its coordinates are not longitude/latitude;"
                                 " define the CRS (e.g. EPSG:32650) in the file", path=path)
            geom = geom.set_crs("EPSG:4326")
        elif not geom.crs.equals("EPSG:4326"):
            try:
                geom = geom.to_crs("EPSG:4326")
            except Exception as exc:
                raise InputError(f"cannot reproject from {geom.crs.to_string()} to EPSG:4326: "
                                 f"{exc}", path=path) from None
        geometry = geom.reset_index(drop=True)
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name) if isinstance(gdf, gpd.GeoDataFrame)
                         else gdf).reset_index(drop=True)
    return _Source(path=path, table=table, rows=rows, row_word="feature", geometry=geometry)


def _read_source(path: Path, sheet, layer) -> _Source:
    suffix = path.suffix.lower()
    if path.is_dir() and suffix != ".gdb":
        raise InputError("is a directory, not a sites file", path=path)
    try:
        if suffix in _TABLE_SUFFIXES:
            return _read_csv(path)
        if suffix in _EXCEL_SUFFIXES:
            return _read_excel(path, sheet)
        if suffix == ".xls":
            raise InputError("old-style .xls workbooks are not supported; open it in Excel and "
                             "save as .xlsx (or CSV UTF-8)", path=path)
        if suffix in VECTOR_SUFFIXES or suffix == ".gdb":
            return _read_vector(path, layer)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    raise InputError(f"unsupported file type '{suffix or '(none)'}'; use .csv, .xlsx, .gpkg, "
                     f".geojson or .shp", path=path)


# ------------------------------------------------------------------------------------------
# column matching
# ------------------------------------------------------------------------------------------

def _match_field(columns: Sequence[str], field: str, taken: set[str]) -> str | None:
    aliases = _ALIAS_NORM[field]
    best, best_rank = None, len(aliases) + 1
    for col in columns:
        if col in taken:
            continue
        for v in name_variants(col, _SYSTEM_TAGS):
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


def _explicit(src: _Source, given: str, what: str) -> str:
    columns = list(src.table.columns)
    if given in columns:
        return given
    folded = [c for c in columns if norm(c) == norm(given)]
    if folded:
        return folded[0]
    close = _closest(columns, [given])
    hint = f"; did you mean '{close}'?" if close else ""
    raise InputError(f"{what} column '{given}' not found; columns found: "
                     f"{_fmt_list(columns, 20)}{hint}", path=src.path)


def _missing_column(src: _Source, field: str) -> InputError:
    columns = list(src.table.columns)
    aliases = COLUMN_ALIASES[field]
    close = _closest(columns, aliases)
    hint = f"; did you mean '{close}'? (pass {_ARG[field]}='{close}')" if close else (
        f"; name the column with {_ARG[field]}=...")
    return InputError(
        f"required column '{field}' not found (looked for {', '.join(aliases[:6])}…); columns "
        f"found: {_fmt_list(columns, 20)}{hint}", path=src.path)


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


def _numbers(src: _Source, column: str, what: str, allow_blank: bool = False) -> np.ndarray:
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


def _split_combined(src: _Source, column: str) -> tuple[np.ndarray, np.ndarray]:
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


def _check_coordinates(src: _Source, lon: np.ndarray, lat: np.ndarray,
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


def _ids(src: _Source, column: str | None, kind: str, unique: bool = True) -> np.ndarray:
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
                         f"{_fmt_list(src.rows[same])}{more}", path=src.path, column=column)
    return ids


def _plants(src: _Source, column: str | None) -> np.ndarray:
    out = np.empty(len(src.table), dtype=object)
    if column is None:
        out[:] = [()] * len(out)
        return out
    txt = _text(src.table[column], excel=True).str.normalize("NFKC")
    parts = txt.str.split(_PLANT_SEPARATORS, regex=True)
    out[:] = [tuple(p for p in lst if p) for lst in parts]
    return out


def _tier(src: _Source, column: str) -> pd.Series:
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

    src = _read_source(path, sheet, layer)
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
                             any(v in _COMBINED_NORM for v in name_variants(c, _SYSTEM_TAGS))), None)
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


def _geocode_rows(src: _Source, column: str | None, pos: np.ndarray, geocode) -> pd.DataFrame:
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


def _geometry_coords(src: _Source, polygon_points: bool = False) -> tuple[np.ndarray, np.ndarray]:
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


