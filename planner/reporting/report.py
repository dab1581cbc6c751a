"""Writing ``report/report.html`` and ``report/report.pdf`` for a run folder."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from planner._io import atomic_path, atomic_write_text
from planner.errors import PlannerError
from planner.maps.offline import CHROMIUM_FLAGS, export_png, find_chromium
from planner.outputs import RunLayout
from planner.reporting.document import build_html
from planner.reporting.run_data import read_run

__all__ = ["write_report", "print_pdf"]

#: Interactive maps of a run folder snapshotted into the report, when present.
MAP_FILES = (str(RunLayout.COVERAGE_MAP), str(RunLayout.SITING_MAP), str(RunLayout.PHASING_MAP))


def print_pdf(html_path, pdf_path, *, chromium: str | None = None, timeout_s: float = 180.0) -> Path:
    """Print an HTML file to PDF with headless Chromium (A4, backgrounds, no header/footer).

    Raises
    ------
    PlannerError
        Chromium missing, failing or timing out, naming the file.
    """
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    binary = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="planner-chromium-") as profile, atomic_path(pdf_path) as tmp:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               "--print-to-pdf-no-header", "--run-all-compositor-stages-before-draw",
               f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise PlannerError(f"Chromium did not print {html_path} to PDF within {timeout_s:g} s") from None
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PlannerError(f"Chromium failed to print {html_path} to PDF (exit {proc.returncode}): "
                               f"{' | '.join(tail)}")
    return pdf_path


def _snapshots(folder: Path, width: int, height: int) -> tuple[list[tuple[str, bytes]], str | None]:
    """PNG snapshots of the run's interactive maps (existing PNGs reused), or why there are none."""
    images = []
    for rel in MAP_FILES:
        html = folder / rel
        if not html.is_file():
            continue
        png = html.with_suffix(".png")
        if png.is_file():
            images.append((rel, png.read_bytes()))
            continue
        try:
            with tempfile.TemporaryDirectory() as d:
                images.append((rel, export_png(html, Path(d) / "map.png", width, height).read_bytes()))
        except PlannerError as exc:
            return images, str(exc)
    return images, None


def write_report(run_dir, out_dir=None, *, pdf: bool = True, snapshots: bool = True,
                 map_size: tuple[int, int] = (1200, 800)) -> dict[str, Path]:
    """Write the report of a finished run: ``report.html`` (self-contained) and ``report.pdf``.

    Parameters
    ----------
    run_dir : str or Path
        A folder written by ``planner run`` (holds ``run.json``).
    out_dir : str or Path, optional
        Where to write (default ``run_dir/report``).
    pdf : bool
        Also print the PDF with headless Chromium.
    snapshots : bool
        Add PNG snapshots of the run's interactive maps (headless Chromium; skipped with a note
        in the report when Chromium is missing).
    map_size : (int, int)
        Snapshot size in pixels.

    Returns
    -------
    dict
        ``{"html": path, "pdf": path}`` (``pdf`` only when written).

    Raises
    ------
    InputError
        ``run_dir`` is not a run folder.
    PlannerError
        The PDF was asked for and Chromium is missing or fails.
    """
    data = read_run(run_dir)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    images, reason = _snapshots(Path(run_dir), *map_size) if snapshots else ([], "snapshots=False")
    page = build_html(data, images, reason)
    html_path = out / "report.html"
    atomic_write_text(html_path, page)
    written = {"html": html_path}
    if pdf:
        written["pdf"] = print_pdf(html_path, out / "report.pdf")
    return written
