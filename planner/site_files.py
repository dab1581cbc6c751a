"""Reading the raw cells of a sites file: CSV (encoding and delimiter sniffed), Excel, GIS layers.

:func:`read_source` returns a :class:`SiteSource` (the cells as text/objects, with the spreadsheet
row or feature number of every row) for :func:`planner.sites.read_sites` to match and validate.
A title row above the real header is skipped when a later row names at least two standard
fields; the column vocabulary that decides this (:data:`COLUMN_ALIASES`) is defined here.
Input files are never modified.
"""
from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._headers import name_variants, norm
from planner._io import VECTOR_SUFFIXES
from planner.errors import InputError

__all__ = ["ALIAS_NORM", "COLUMN_ALIASES", "COMBINED_ALIASES", "COMBINED_NORM", "EXCEL_SUFFIXES", "MAX_LISTED",
           "SYSTEM_TAGS", "SiteSource", "TABLE_SUFFIXES", "format_list", "read_source"]

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
COMBINED_ALIASES = ("location", "lnglat", "lonlat", "lng_lat", "lon_lat", "coordinates",
                     "coordinate", "coord", "坐标", "经纬度", "位置坐标")

TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
SYSTEM_TAGS = ("wgs84", "gcj02", "bd09", "wgs", "gcj", "bd", "gps", "baidu", "gaode", "amap")
MAX_LISTED = 5

ALIAS_NORM = {field: [norm(a) for a in aliases] for field, aliases in COLUMN_ALIASES.items()}
COMBINED_NORM = [norm(a) for a in COMBINED_ALIASES]


def _excel_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def format_list(items: Sequence, limit: int = MAX_LISTED) -> str:
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" (and {len(items) - limit} more)"


@dataclass
class SiteSource:
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
        return f"{word} {format_list(labels)}"

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
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(path: Path) -> SiteSource:
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
                       excel: bool = False) -> SiteSource:
    """Turn raw records (first = header candidate) into a SiteSource with row numbers."""
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
        raise InputError(f"no data rows (only a header: {format_list(data.columns, 12)})", path=path)
    return SiteSource(path=path, table=data, rows=rows, row_word="row", excel=excel)


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
        variants = name_variants(cell, SYSTEM_TAGS)
        for field, aliases in ALIAS_NORM.items():
            if any(v in aliases for v in variants):
                found.add(field)
        if any(v in COMBINED_NORM for v in variants):
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


def _read_excel(path: Path, sheet) -> SiteSource:
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


def _read_vector(path: Path, layer) -> SiteSource:
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
    return SiteSource(path=path, table=table, rows=rows, row_word="feature", geometry=geometry)


def read_source(path: Path, sheet, layer) -> SiteSource:
    suffix = path.suffix.lower()
    if path.is_dir() and suffix != ".gdb":
        raise InputError("is a directory, not a sites file", path=path)
    try:
        if suffix in TABLE_SUFFIXES:
            return _read_csv(path)
        if suffix in EXCEL_SUFFIXES:
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
