"""Chart of supplier coverage by departure hour for one plant (matplotlib; drawn from the
``coverage/by_hour.csv`` table, never recomputed)."""
from __future__ import annotations

import pandas as pd

from planner._charts import font_rc
from planner.settings import OSM_ATTRIBUTION


def hourly_coverage_chart(by_hour: pd.DataFrame, plant_id: str, title: str = "", threshold_min: float = 30.0):
    """Figure: share of a plant's suppliers inside the circle at each departure hour, one line per vehicle.

    Solid lines count suppliers, dashed lines weight them (e.g. by daily deliveries). Uses a
    CJK-capable font when installed, so Chinese names render.

    Parameters
    ----------
    by_hour : DataFrame
        ``plant_id, vehicle, hour, share_covered, weighted_share_covered``
        (:func:`planner.supply_circle.coverage_by_hour`).
    plant_id : str
    title : str
    threshold_min : float
        Shown in the axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = by_hour[by_hour.plant_id.astype(str) == str(plant_id)]
    with matplotlib.rc_context(font_rc()):
        fig = Figure(figsize=(9, 4.5), dpi=100)
        ax = fig.add_subplot()
        for k, (vehicle, g) in enumerate(rows.groupby("vehicle", sort=False)):
            g = g.sort_values("hour")
            color = f"C{k}"
            ax.plot(g.hour, 100 * g.share_covered, marker="o", ms=3, color=color, label=f"{vehicle}")
            ax.plot(g.hour, 100 * g.weighted_share_covered, ls="--", color=color, lw=1)
        ax.set_xlim(-0.5, 23.5)
        ax.set_ylim(-2, 102)
        ax.set_xticks(range(0, 24, 2))
        ax.set_xlabel("departure hour 出发时刻")
        ax.set_ylabel(f"suppliers within {threshold_min:g} min, % 覆盖率")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="— count 数量\n- - weighted 加权",
                  title_fontsize=8)
        ax.set_title(title or f"{plant_id}")
        fig.text(0.99, 0.01, OSM_ATTRIBUTION, ha="right", va="bottom", fontsize=7, color="grey")
        fig.tight_layout()
    return fig
