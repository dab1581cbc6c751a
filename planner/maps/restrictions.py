"""Time-windowed restriction areas (e.g. Beijing's 5th-Ring truck ban) drawn on the maps.

:func:`restriction_frame` turns the road network's restriction objects into the table the map
builders take (``restrictions=``); :func:`restriction_layer` and :func:`restriction_legend`
draw it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import shapely

from planner.maps._common import (
    GeoJsonLayer,
    LegendBuilder,
    as_wgs84,
    esc,
    feature_collection,
    require_columns,
    shift,
    tooltip_for,
)
from planner.maps.labels import label

__all__ = ["RESTRICTION_COLOUR", "restriction_frame", "restriction_layer", "restriction_legend"]

#: Outline colour of restriction areas (purple: apart from the slack and band colours).
RESTRICTION_COLOUR = "#6a3d9a"


def restriction_frame(restrictions: Iterable, notes: Mapping[str, str] | None = None) -> gpd.GeoDataFrame:
    """Table of restriction areas from restriction objects.

    Parameters
    ----------
    restrictions : iterable
        :class:`planner.network.speeds.Restriction` (``name``, ``polygon`` in EPSG:4326,
        ``window()``, ``action``); repeated names are kept once.
    notes : mapping, optional
        Free text per restriction name (the scenario's ``note``).

    Returns
    -------
    GeoDataFrame
        ``name``, ``hours`` (``"06:00–23:00"``), ``action``, ``note``, geometry (EPSG:4326).
    """
    seen, rows = set(), []
    for r in restrictions:
        if r.name in seen:
            continue
        seen.add(r.name)
        rows.append({"name": r.name, "hours": r.window(), "action": r.action,
                     "note": (notes or {}).get(r.name) or "", "geometry": r.polygon})
    return gpd.GeoDataFrame(rows, columns=["name", "hours", "action", "note", "geometry"], geometry="geometry",
                            crs=4326)


def restriction_layer(restrictions: gpd.GeoDataFrame, language: str, system: str = "wgs84") -> GeoJsonLayer:
    """One layer of restriction outlines; restrictions on the same polygon share one outline.

    Parameters
    ----------
    restrictions : GeoDataFrame
        ``name``, ``hours``, ``action``, optional ``note``, polygon geometry.
    language : {"en", "zh"}
    system : str
        Display coordinate system of the map (``wgs84`` or ``gcj02``).
    """
    require_columns(restrictions, ["name", "hours", "action"], "restrictions")
    gdf = shift(as_wgs84(restrictions, "restrictions"), system)
    keys = shapely.to_wkb(gdf.geometry.values)
    geoms, props, where = [], [], {}
    for key, geom, r in zip(keys, gdf.geometry.values, gdf.itertuples(index=False)):
        line = f"{esc(r.name)}: {esc(label('closed' if r.action == 'close' else 'slowed', language))} {esc(r.hours)}"
        note = getattr(r, "note", "")
        if isinstance(note, str) and note:
            line += f"<br><i>{esc(note)}</i>"
        if key in where:
            props[where[key]]["tip"] += f"<br>{line}"
            props[where[key]]["names"].append(r.name)
            continue
        where[key] = len(geoms)
        geoms.append(geom)
        props.append({"tip": f"<b>{esc(label('restrictions', language))}</b><br>{line}", "names": [r.name]})
    return GeoJsonLayer(
        feature_collection(geoms, props),
        name=esc(label("restrictions", language)),
        style_function=lambda f: {"color": RESTRICTION_COLOUR, "weight": 2.5, "dashArray": "8 6",
                                  "fill": False, "opacity": 0.9},  # outline only: markers inside stay clickable
        tooltip=tooltip_for("tip"),
    )


def restriction_legend(lg: LegendBuilder, language: str) -> LegendBuilder:
    """The legend row of :func:`restriction_layer`."""
    return lg.swatch(label("restrictions", language), "transparent", "box", stroke=RESTRICTION_COLOUR,
                     stroke_width=2)
