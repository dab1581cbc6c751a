"""Writing results safely: atomic files, a staged output folder, the run manifest, exports.

A run writes everything into a staging folder beside the output folder and swaps it into place
only when every file is written, so an interrupted run (crash, Ctrl-C, ``kill``) leaves the
previous outputs intact. Single files are written to a temporary name in the same folder and
moved into place with :func:`os.replace` (atomic on POSIX).
"""
from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from planner._io import atomic_path, json_default, umask
from planner.errors import PlannerError
from planner.settings import OSM_ATTRIBUTION


class RunLayout:
    """Where each result lives inside a run output folder: the one definition that the writer
    (:mod:`planner.pipeline`) and the reader (:mod:`planner.compare.runs`) both use."""

    MANIFEST = Path("run.json")
    COVERAGE = Path("coverage")
    SUPPLIER_TIMES = COVERAGE / "supplier_times.csv"
    PLANT_SUMMARY = COVERAGE / "plant_summary.csv"
    LOST_AT_PEAK = COVERAGE / "lost_at_peak.csv"
    SENSITIVITY = COVERAGE / "sensitivity.csv"
    BREAKING_SCALE = COVERAGE / "breaking_scale.csv"
    ISOCHRONES = COVERAGE / "isochrones.gpkg"  # display version: holes and slivers gone, simplified
    ISOCHRONES_EXACT = COVERAGE / "isochrones_exact.gpkg"  # the exact polygons, for analysis
    FIT_AREA = COVERAGE / "fit_area.gpkg"  # display version
    FIT_AREA_EXACT = COVERAGE / "fit_area_exact.gpkg"  # the exact polygons, for analysis
    DATA_EDGE = COVERAGE / "data_edge.csv"
    COVERAGE_MAP = COVERAGE / "coverage_map.html"  # one map, a layer per profile
    BY_HOUR = COVERAGE / "by_hour.csv"
    DELIVERY_WINDOWS = COVERAGE / "delivery_windows.csv"
    DOOR_TO_DOOR = COVERAGE / "door_to_door.csv"
    SITING = Path("siting")
    SELECTED_SITES = SITING / "selected_sites.csv"
    SITING_SUMMARY = SITING / "summary.json"
    PROBLEM = SITING / "problem"
    PROBLEM_DEMAND = PROBLEM / "demand.csv"
    #: every (demand, candidate, technology) within the radius, gzip-compressed: 1.7 million rows
    #: (68 MB as plain CSV) at 5,000 suppliers, more than a spreadsheet opens (pandas reads it as is)
    PROBLEM_PAIRS = PROBLEM / "coverage_pairs.csv.gz"
    SITING_MAP = SITING / "siting_map.html"
    STATION_SIZES = SITING / "station_sizes.csv"
    STATION_PROFILES = SITING / "station_profiles"
    EXCEL = Path("results.xlsx")
    GPKG = Path("results.gpkg")
    AREAS = Path("areas.gpkg")
    REPORT = Path("report")
    #: ``planner frontier`` and ``planner phase`` write here by default (kept when the run is redone)
    PROGRAMME = Path("programme")
    FRONTIER = PROGRAMME / "frontier"
    FRONTIER_TABLE = FRONTIER / "frontier.csv"
    FRONTIER_CHART = FRONTIER / "frontier.png"
    FRONTIER_PLANS = FRONTIER / "plans.json"
    FRONTIER_SUMMARY = FRONTIER / "summary.json"
    PHASING = PROGRAMME / "phasing"
    PHASING_STATIONS = PHASING / "stations.csv"
    PHASING_YEARS = PHASING / "years.csv"
    PHASING_MAP = PHASING / "map.html"
    PHASING_SUMMARY = PHASING / "summary.json"

    @staticmethod
    def hourly_chart(plant_id: str) -> Path:
        """The coverage-by-hour chart of one plant."""
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(plant_id))
        return RunLayout.COVERAGE / f"by_hour_{safe}.png"

    @staticmethod
    def station_profile(site_id: str) -> Path:
        """The daily profile chart (load, PV, battery, grid) of one PV-storage station."""
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(site_id))
        return RunLayout.STATION_PROFILES / f"{safe}.png"


#: Scenario sections that shape the programme's results (frontier, phasing): programme outputs in
#: a run folder made with other values of these are out of date for that run.
PROGRAMME_INPUTS = ("network", "profiles", "restrictions", "sites", "siting")


def programme_inputs(settings: dict) -> dict:
    """The parts of a scenario's settings (``Scenario.model_dump(mode="json")``, as in ``run.json``)
    that shape the programme's results, without ``siting.budget_wan`` (the frontier and the phasing
    set their own budgets)."""
    out = {k: settings.get(k) for k in PROGRAMME_INPUTS}
    if isinstance(out["siting"], dict):
        out["siting"] = {k: v for k, v in out["siting"].items() if k != "budget_wan"}
    return clean_for_json(out)


#: Suffix of the folder that keeps the previous outputs beside a run's output folder.
PREVIOUS_SUFFIX = ".previous"


#: gzip settings of :func:`write_csv` for a ``.gz`` path (level 6: ~3x faster than 9 for a few % more
#: bytes; no time stamp, so the same table gives the same file)
_GZIP = {"method": "gzip", "compresslevel": 6, "mtime": 0}


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """CSV (UTF-8 with BOM so Excel shows Chinese correctly), written atomically; gzip-compressed
    when ``path`` ends in ``.gz``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.10g",
                  compression=_GZIP if path.suffix == ".gz" else None)
    return path


def write_json(obj, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=json_default, allow_nan=False),
                       encoding="utf-8")
    return Path(path)


def write_gpkg(layers: dict, path: Path) -> Path:
    """GeoPackage with one layer per result (QGIS-ready), written atomically."""
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            if gdf is None or len(gdf) == 0:
                continue
            gdf.to_file(tmp, layer=name, driver="GPKG")
        if not tmp.exists():
            raise PlannerError(f"nothing to write to {path}")
    return Path(path)


#: xlsxwriter options: strings are never turned into formulas, links or numbers
_XLSX_TEXT = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}

#: Number formats of :func:`write_excel` by kind: shares as %, minutes to 0.1, 万元 with thousands separator.
EXCEL_NUMBER_FORMATS: dict[str, str] = {"percent": "0.0%", "minutes": "0.0", "wan": "#,##0.0"}

#: Header cell format of :func:`write_excel` (what ``pandas.DataFrame.to_excel`` writes: bold, thin border, centred).
_HEADER_FORMAT = {"bold": True, "border": 1, "align": "center", "valign": "top"}

#: Column width limits (characters) of :func:`write_excel`.
_MIN_WIDTH, _MAX_WIDTH = 6, 60


def text_width(value) -> float:
    """Width of ``value`` as shown in a spreadsheet cell, in characters (CJK characters count two)."""
    text = str(value)
    if text.isascii():
        return float(len(text))
    return float(sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text))


def _shown(value, kind: str | None) -> str:
    """The text a cell shows for ``value`` under number format ``kind`` (for fitting widths)."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return ""
        if kind == "percent":
            return f"{v * 100:.1f}%"
        if kind == "minutes":
            return f"{v:.1f}"
        if kind == "wan":
            return f"{v:,.1f}"
        return f"{v:.10g}"[:11]  # Excel's "General" shows at most ~11 characters
    return str(value)


def write_excel(tables: dict, path: Path, formats: dict | None = None,
                attribution_sheet: str = "attribution", attribution_header: str = "source") -> Path:
    """One workbook, one sheet per table (sheet names ≤ 31 chars), with the attribution sheet.

    Every sheet has a frozen header row, an autofilter over its table and columns as wide as
    their content (header included).

    Every string is written as text: a supplier named ``=HYPERLINK(…)`` or ``@SUM(A1)`` shows as
    that text, never as a live formula or link (openpyxl would have written ``=…`` as a formula).

    Parameters
    ----------
    tables : dict
        Sheet name -> table (a geometry column is dropped).
    path : Path
        The workbook to write (atomically).
    formats : dict, optional
        Sheet name -> {column header -> kind}, kind a key of :data:`EXCEL_NUMBER_FORMATS`.
    attribution_sheet, attribution_header : str
        Name and header of the sheet holding the OpenStreetMap attribution.
    """
    formats = formats or {}
    sheets = {str(k)[:31]: (pd.DataFrame(v.drop(columns="geometry", errors="ignore")), formats.get(k, {}))
              for k, v in tables.items()}
    sheets[attribution_sheet[:31]] = (pd.DataFrame({attribution_header: [OSM_ATTRIBUTION]}), {})
    with atomic_path(path) as tmp:
        # constant memory: rows go to disk as written (a 5,000-supplier run has ~2 million cells)
        book = xlsxwriter.Workbook(str(tmp), {**_XLSX_TEXT, "constant_memory": True,
                                              "default_date_format": "yyyy-mm-dd hh:mm:ss", "remove_timezone": True})
        try:
            header = book.add_format(_HEADER_FORMAT)
            cell_formats = {k: book.add_format({"num_format": f}) for k, f in EXCEL_NUMBER_FORMATS.items()}
            for name, (frame, kinds) in sheets.items():
                ws = book.add_worksheet(name)
                ws.freeze_panes(1, 0)
                if len(frame.columns):
                    ws.autofilter(0, 0, len(frame), len(frame.columns) - 1)
                for i, col in enumerate(frame.columns):  # before the rows: they are written once, in order
                    kind = kinds.get(col)
                    shown = {_shown(v, kind) for v in pd.unique(frame[col])}  # a 40,000-row sheet repeats its names
                    width = max([text_width(col)] + [text_width(v) for v in shown])
                    ws.set_column(i, i, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH), cell_formats.get(kind))
                ws.write_row(0, 0, [str(c) for c in frame.columns], header)
                for r, row in enumerate(zip(*(_cell_values(frame[c]) for c in frame.columns)), start=1):
                    ws.write_row(r, 0, row)
        finally:
            book.close()
    return Path(path)


def _cell_values(column: pd.Series) -> list:
    """A column as Python values for xlsxwriter: missing values (NaN, NA, NaT) as ``None`` (a blank cell,
    as pandas writes them), infinities as the text "inf" (pandas' ``inf_rep``)."""
    values = column.astype(object).where(column.notna(), None).tolist()
    return [("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v) else v for v in values]


@contextmanager
def staged_output(final_dir: Path, keep: tuple[str | Path, ...] = ()) -> Iterator[Path]:
    """Yield a fresh staging folder; on success it replaces ``final_dir`` as one step.

    On failure or interruption the staging folder is removed and ``final_dir`` is untouched.
    On success the outputs that were in ``final_dir`` are kept beside it, in
    ``<final_dir>.previous`` (the one before that is dropped), so a run never loses the last
    results. The folder follows the user's umask (a bare ``mkdtemp`` would make it 0700).

    Parameters
    ----------
    final_dir : Path
        The output folder.
    keep : tuple of str or Path
        Parts of ``final_dir`` (relative paths, e.g. ``RunLayout.COVERAGE``) copied into the stage
        before the block runs: what a partial run (``--only siting``) does not rewrite.
    """
    final_dir = Path(final_dir).resolve()
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_stages(final_dir)
    stage = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{final_dir.name}.staging-{os.getpid()}-"))
    os.chmod(stage, 0o777 & ~umask())
    try:
        for part in keep:
            src = final_dir / part
            if src.is_dir():
                shutil.copytree(src, stage / part)
            elif src.is_file():
                (stage / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, stage / part)
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    previous = final_dir.with_name(final_dir.name + PREVIOUS_SUFFIX)
    if final_dir.exists():
        old = None
        if previous.exists():
            old = previous.with_name(f".{previous.name}.old-{os.getpid()}")
            os.replace(previous, old)
        os.replace(final_dir, previous)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    os.replace(stage, final_dir)


def _remove_stale_stages(final_dir: Path):
    """Remove staging folders left by killed runs (their process no longer exists)."""
    for d in final_dir.parent.glob(f".{final_dir.name}.staging-*"):
        try:
            pid = int(d.name.rsplit(".staging-", 1)[1].split("-")[0])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that shape the numbers."""
    out: dict[str, str | None] = {}
    for name in ("yizhuang-planner", "numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "osmnx",
                 "networkx", "folium", "scikit-learn", "highspy", "numba", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


def clean_for_json(obj):
    """Replace non-finite floats with None recursively (JSON has no inf/NaN)."""
    if isinstance(obj, dict):
        return {str(k): clean_for_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_for_json(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
