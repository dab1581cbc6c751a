"""Report charts drawn with matplotlib (Agg), returned as PNG bytes.

Chinese text needs a CJK font: :func:`cjk_font` finds WenQuanYi Micro Hei (Debian
``fonts-wqy-microhei``) or Noto Sans CJK and the glyphs are rasterised into the PNG, so the
report shows them wherever it is opened.
"""
from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd

from planner._charts import cjk_font, font_rc

__all__ = ["cjk_font", "minutes_histogram", "sensitivity_chart", "lost_at_peak_chart", "overview_map"]

def _figure(width=7.0, height=3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update(font_rc())
    fig, ax = plt.subplots(figsize=(width, height), dpi=130)
    return fig, ax


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def minutes_histogram(times: pd.DataFrame, threshold_min: float, names: dict, text: dict) -> bytes:
    """Step histograms of supplier→plant minutes per plant (served pairs, reachable), threshold line.

    ``times``: ``plant_id``, ``minutes`` of one profile. ``text``: ``title``, ``x``, ``y``.
    """
    fig, ax = _figure()
    finite = times[np.isfinite(times["minutes"].astype(float))]
    top = max(float(finite["minutes"].max()) if len(finite) else threshold_min, threshold_min) * 1.05
    bins = np.linspace(0, top, 30)
    for pid, g in finite.groupby("plant_id", sort=True):
        ax.hist(g["minutes"].astype(float), bins=bins, histtype="step", linewidth=1.6, label=names.get(pid, pid))
    ax.axvline(threshold_min, color="crimson", linestyle="--", linewidth=1.2, label=f"{threshold_min:g} min")
    ax.set(title=text["title"], xlabel=text["x"], ylabel=text["y"])
    ax.legend(fontsize=7)
    return _png(fig)


def sensitivity_chart(sens: pd.DataFrame, names: dict, text: dict) -> bytes:
    """Covered share against the uniform speed scale, one line per plant (one profile)."""
    fig, ax = _figure()
    for pid, g in sens.groupby("plant_id", sort=True):
        g = g.sort_values("speed_scale")
        ax.plot(g["speed_scale"], 100 * g["share_covered"], marker="o", label=names.get(pid, pid))
    ax.set(title=text["title"], xlabel=text["x"], ylabel=text["y"], ylim=(0, 100))
    ax.legend(fontsize=7)
    return _png(fig)


def lost_at_peak_chart(counts: pd.Series, names: dict, text: dict) -> bytes:
    """Bar chart: suppliers inside the circle off-peak but outside it at peak, per plant."""
    fig, ax = _figure(height=3.0)
    labels = [textwrap.fill(f"{p} {names.get(p, '')}".strip(), 24) for p in counts.index]
    ax.bar(range(len(counts)), counts.to_numpy(), color="#d95f02")
    ax.set_xticks(range(len(counts)), labels, fontsize=7)
    ax.set(title=text["title"], ylabel=text["y"])
    return _png(fig)


def overview_map(layers: dict, points: list[tuple[pd.DataFrame, dict]], text: dict) -> bytes:
    """A static overview map: polygons (study area, data extent, circles) and point sets.

    Parameters
    ----------
    layers : dict
        label -> (GeoDataFrame in EPSG:4326, style dict for ``GeoDataFrame.plot``).
    points : list of (DataFrame with lon/lat, style dict incl. ``label``)
    text : dict
        ``title`` and ``attribution``.
    """
    fig, ax = _figure(7.0, 6.0)
    handles = []
    import matplotlib.patches as mpatches

    for label, (gdf, style) in layers.items():
        if gdf is None or gdf.empty:
            continue
        gdf.plot(ax=ax, **style)
        handles.append(mpatches.Patch(facecolor=style.get("facecolor", "none"),
                                      edgecolor=style.get("edgecolor", "black"), label=label))
    for df, style in points:
        if df is None or df.empty:
            continue
        style = dict(style)
        h = ax.scatter(df["lon"], df["lat"], label=style.pop("label"), **style)
        handles.append(h)
        if "name" in df and len(df) <= 12:
            for r in df.itertuples():
                ax.annotate(str(r.name), (r.lon, r.lat), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_aspect(1 / np.cos(np.radians(np.mean(ax.get_ylim()))))
    ax.set(title=text["title"], xlabel="lon", ylabel="lat")
    ax.legend(handles=handles, fontsize=6, loc="upper left")
    ax.annotate(text["attribution"], (0.99, 0.01), xycoords="axes fraction", ha="right", fontsize=6)
    return _png(fig)
