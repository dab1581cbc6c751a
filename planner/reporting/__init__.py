"""The planner's report: one self-contained HTML page and a PDF of a finished run folder.

:func:`write_report` reads only the run folder (``run.json``, the coverage and siting tables,
``areas.gpkg``, the HTML maps), so ``planner report RUN_DIR`` works on any run output; the
PDF is printed by headless Chromium (:func:`planner.maps.offline.find_chromium`).
"""
from planner.reporting.report import write_report

__all__ = ["write_report"]
