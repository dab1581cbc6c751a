"""Package-wide settings (attribution, CRS, timeouts, data folder).

Shared vocabulary and defaults (technology codes, snap limit, buffer, random seed) live in
:mod:`planner.vocab`; scenario-level defaults in :mod:`planner.scenario`.
"""
from __future__ import annotations

import os
from pathlib import Path

#: Attribution required on every map and export built on OpenStreetMap data (ODbL).
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"

#: Projected CRS used for metric work in Beijing (UTM zone 50N). Other regions get their
#: UTM zone from :func:`planner.network.graph.metric_crs_for`.
BEIJING_METRIC_CRS = "EPSG:32650"

#: Network timeouts in seconds for downloads (Overpass); an offline machine fails fast.
DOWNLOAD_TIMEOUT_S = 30

def data_dir() -> Path:
    """Root for relative data paths in scenarios: ``$PLANNER_DATA_DIR`` or ``data/raw``."""
    return Path(os.environ.get("PLANNER_DATA_DIR", "data/raw"))


def cjk_font() -> str | None:
    """Name of an installed CJK-capable font for matplotlib charts (WenQuanYi Micro Hei or Noto
    Sans CJK), or ``None`` when none is installed."""
    from matplotlib import font_manager

    for f in font_manager.fontManager.ttflist:
        if "WenQuanYi" in f.name or "Noto Sans CJK" in f.name:
            return f.name
    return None
