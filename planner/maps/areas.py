"""Where the study is and where the road data ends: outline layers shared by the result maps.

The orchestration layer passes the run's ``areas.gpkg`` layers (the study area — the E-Town
outline grown by its margin — and the road data's extent) as GeoDataFrames; nothing is
recomputed here.
"""
from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd

from planner.maps._common import (
    GeoJsonLayer,
    LegendBuilder,
    as_wgs84,
    esc,
    feature_collection,
    shift,
    tooltip_for,
)
from planner.maps.labels import label

__all__ = ["STUDY_AREA_COLOUR", "DATA_EXTENT_COLOUR", "area_layers", "area_legend", "fit_frame"]

#: Outline colour of the study area (dark teal) and of the road data's edge (grey).
STUDY_AREA_COLOUR = "#00695c"
DATA_EXTENT_COLOUR = "#616161"

_STYLES = {
    "study_area": {"color": STUDY_AREA_COLOUR, "weight": 3, "fill": False, "opacity": 0.9},
    "data_extent": {"color": DATA_EXTENT_COLOUR, "weight": 2, "dashArray": "2 6", "fill": False, "opacity": 0.9},
}


def _present(gdf) -> bool:
    return gdf is not None and len(gdf) > 0


def area_layers(study_area: gpd.GeoDataFrame | None, data_extent: gpd.GeoDataFrame | None, language: str,
                system: str = "wgs84") -> list[GeoJsonLayer]:
    """Outline-only layers (named ``study_area`` / ``data_extent`` labels) of the areas given.

    Parameters
    ----------
    study_area, data_extent : GeoDataFrame or None
        Polygons (any CRS; a CRS-less frame is taken as WGS-84). ``None`` or empty: no layer.
    language : {"en", "zh"}
    system : str
        Display coordinate system of the map (``wgs84`` or ``gcj02``).

    Returns
    -------
    list of GeoJsonLayer
        Study area first, then the data extent; outlines only, so markers inside stay clickable.
    """
    out = []
    for key, gdf in (("study_area", study_area), ("data_extent", data_extent)):
        if not _present(gdf):
            continue
        g = shift(as_wgs84(gdf, key), system)
        text = label(key, language)
        props = [{"tip": f"<b>{esc(text)}</b>", "area": key} for _ in range(len(g))]
        out.append(GeoJsonLayer(feature_collection(g.geometry.values, props), name=esc(text),
                                style_function=lambda f, s=_STYLES[key]: s, tooltip=tooltip_for("tip")))
    return out


def area_legend(lg: LegendBuilder, study_area, data_extent, language: str,
                layers: Sequence[GeoJsonLayer] = ()) -> LegendBuilder:
    """Legend rows of :func:`area_layers` (only for the areas drawn).

    Given ``layers`` (what :func:`area_layers` returned, added to the map), each row shows
    only while its layer is on.
    """
    drawn = [key for key, gdf in (("study_area", study_area), ("data_extent", data_extent)) if _present(gdf)]
    for k, key in enumerate(drawn):
        with lg.follows(*layers[k:k + 1]):
            lg.swatch(label(key, language), "transparent", "box", stroke=_STYLES[key]["color"], stroke_width=2)
    return lg


def fit_frame(study_area, *fallback):
    """What a map opens on: the study area when given, else the union of ``fallback`` frames.

    Returns a tuple of frames for :func:`~planner.maps._common.bounds_of`.
    """
    return (study_area,) if _present(study_area) else fallback
