"""Base map: tiles (or the road network), attribution, layer control, scale, full screen.

Basemaps
--------
``osm`` (default)
    OpenStreetMap standard tiles (WGS-84 / Web Mercator).
``amap``
    AMap / Gaode road tiles. They are drawn in GCJ-02, so every layer the planner puts on
    such a map is shifted WGS-84 → GCJ-02 with :func:`planner.coords.shift_geometry`
    (100–700 m around Beijing). Popups keep showing the WGS-84 coordinates.
``tianditu``
    Tianditu (天地图) vector tiles plus its label layer (Chinese or English to match
    ``language``). CGCS2000 is treated as WGS-84 (they differ by centimetres): no shift.
    Needs a browser-side API token (``tianditu_token=`` or ``$TIANDITU_TOKEN``); the token is
    written into the HTML, as every Tianditu web map does.
``none``
    No tiles: the road network given as ``roads`` is drawn as the background, so a map
    opened without Internet access (air-gapped, report PCs) is never blank.

With a tile basemap, ``roads`` (if given) is added too as a hidden, toggleable layer that
switches itself on when a tile fails to load (map opened without Internet access).

Every map carries the OpenStreetMap attribution (:data:`planner.settings.OSM_ATTRIBUTION`)
whatever the basemap: the road network and travel times come from OpenStreetMap.
"""
from __future__ import annotations

import json
import os
import re
import warnings

import folium
import numpy as np
from branca.element import Element, MacroElement
from folium import plugins
from folium.template import Template

from planner.coords import shift_geometry
from planner.errors import PlannerError
from planner.maps._common import display_system, esc, js_string, normalise_bounds, shift_lonlat
from planner.maps.labels import check_language, label
from planner.settings import OSM_ATTRIBUTION

__all__ = ["BASEMAPS", "base_map", "decorate_map", "road_layer", "RoadLayer", "MapContext",
           "map_context"]

#: Accepted values of ``basemap``.
BASEMAPS: tuple[str, ...] = ("osm", "amap", "tianditu", "none")

OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
_OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_AMAP_TILES = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
               "&style=8&x={x}&y={y}&z={z}")
_TDT_TILES = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
              "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
              "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={token}")

#: Default cap on the vertices of the drawn road network (~3 MB of HTML at most).
MAX_ROAD_VERTICES = 150_000

# OSM highway value -> importance rank (0 = most important); unknown -> 5
_ROAD_RANK = {
    "motorway": 0, "trunk": 0, "motorway_link": 1, "trunk_link": 1, "primary": 1,
    "primary_link": 2, "secondary": 2, "secondary_link": 3, "tertiary": 3,
    "tertiary_link": 4, "unclassified": 4, "road": 4, "residential": 5,
    "living_street": 6, "service": 6, "track": 7, "busway": 6,
}
# rank group -> style (thin greys; major roads a little darker and wider)
_ROAD_STYLES = {
    0: {"color": "#6f6f6f", "weight": 2.4, "opacity": 0.9},
    1: {"color": "#8a8a8a", "weight": 1.5, "opacity": 0.85},
    2: {"color": "#a9a9a9", "weight": 0.9, "opacity": 0.8},
}


def _rank_group(rank: int) -> int:
    return 0 if rank <= 1 else (1 if rank <= 3 else 2)


class MapContext:
    """What the result builders need to know about a map made by :func:`base_map`."""

    def __init__(self, basemap: str, language: str, bounds):
        self.basemap = basemap
        self.language = language
        self.system = display_system(basemap)
        self.bounds = bounds


def map_context(m) -> MapContext:
    """The :class:`MapContext` of a map made by :func:`base_map` (else WGS-84/OSM/en)."""
    ctx = getattr(m, "_planner_context", None)
    return ctx if ctx is not None else MapContext("osm", "en", None)


class _Attribution(MacroElement):
    """Adds an attribution (HTML built from our constants) to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text_js }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str):
        super().__init__()
        self._name = "PlannerAttribution"
        self.text_js = js_string(html_text)


class _MetricScale(MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` adds miles too)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({position: "bottomleft", metric: true, imperial: false,
                             maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "PlannerScale"


class _DeferredLayerControl(folium.LayerControl):
    """folium's LayerControl, built after the rest of the map script has run.

    folium writes the control's script where the control sits among the map's children,
    so layers added after it (e.g. in a notebook, after :func:`base_map`) would be
    referenced before they exist. Deferring with ``setTimeout(..., 0)`` lets the control be
    added first and still list every layer.
    """

    _template = Template(
        """
        {% macro script(this,kwargs) %}
            setTimeout(function() {
                var {{ this.get_name() }}_layers = {
                    base_layers : {
                        {%- for key, val in this.base_layers.items() %}
                        {{ key|tojson }} : {{val}},
                        {%- endfor %}
                    },
                    overlays :  {
                        {%- for key, val in this.overlays.items() %}
                        {{ key|tojson }} : {{val}},
                        {%- endfor %}
                    },
                };
                window.{{ this.get_name() }} = L.control.layers(
                    {{ this.get_name() }}_layers.base_layers,
                    {{ this.get_name() }}_layers.overlays,
                    {{ this.options|tojavascript }}
                ).addTo({{this._parent.get_name()}});
            }, 0);
        {% endmacro %}
        """
    )


class _FitBounds(MacroElement):
    """Fit the map to the data once the legend exists, keeping the data clear of it.

    The left padding is the legend's width (when the legend takes less than 45 % of the
    map's width), so no marker ends up under the legend in an exported PNG.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            setTimeout(function() {
                var map = {{ this._parent.get_name() }};
                var legend = map.getContainer().querySelector(".planner-legend");
                var left = 50;
                if (legend && legend.offsetWidth + 30 < 0.45 * map.getSize().x) {
                    left = legend.offsetWidth + 45;
                }
                map.fitBounds({{ this.bounds_js }},
                              {paddingTopLeft: [left, 60], paddingBottomRight: [55, 50],
                               animate: false});
                map.getContainer().setAttribute("data-planner-ready", "1");
            }, 0);
        {% endmacro %}
        """
    )

    def __init__(self, bounds):
        super().__init__()
        self._name = "PlannerFitBounds"
        self.bounds_js = json.dumps([[round(float(v), 7) for v in corner] for corner in bounds])


class _RawScript(Element):
    """A script snippet emitted as is (not re-read as a Jinja template by branca)."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "RawScript"
        self.text = text

    def render(self, **kwargs):
        return self.text


class RoadLayer(folium.map.Layer):
    """The road network as one Leaflet GeoJSON layer (thin greys, not interactive).

    The GeoJSON text (made by :func:`road_layer`: numbers and fixed keys only) goes into
    the page as is. folium's ``GeoJson`` would parse, re-serialise and then have branca
    compile the megabytes of coordinates as a Jinja template, which takes seconds.
    """

    _template = Template("")

    def __init__(self, geojson_text: str, name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RoadLayer"
        self.geojson_text = geojson_text

    def render(self, **kwargs):
        figure = self.get_root()
        styles = json.dumps({str(k): v for k, v in _ROAD_STYLES.items()})
        js = (f"var {self.get_name()} = L.geoJSON({self.geojson_text}, "
              "{interactive: false, smoothFactor: 1.0, className: \"planner-roads\", "
              f"style: function(f) {{ return {styles}[String(f.properties.g)]; }}}});\n")
        figure.script.add_child(_RawScript(js), name=self.get_name())
        super().render(**kwargs)


class _RoadsWhenTilesFail(MacroElement):
    """Switch the road layer on when the tile server cannot be reached (air-gapped PCs)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.tiles.get_name() }}.once("tileerror", function() {
                var map = {{ this._parent.get_name() }};
                if (!map.hasLayer({{ this.roads.get_name() }})) {
                    map.addLayer({{ this.roads.get_name() }});
                    {{ this.roads.get_name() }}.bringToBack();
                }
            });
        {% endmacro %}
        """
    )

    def __init__(self, tiles, roads):
        super().__init__()
        self._name = "RoadsWhenTilesFail"
        self.tiles = tiles
        self.roads = roads


def _check_basemap(basemap: str) -> str:
    if basemap not in BASEMAPS:
        raise PlannerError(f"basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}")
    return basemap


def _tianditu_token(token) -> str:
    token = token if token is not None else os.environ.get("TIANDITU_TOKEN")
    token = (token or "").strip()
    if not token:
        raise PlannerError(
            "basemap 'tianditu' needs a Tianditu API token: pass tianditu_token=... or set the "
            "TIANDITU_TOKEN environment variable (get a browser-side key at "
            "console.tianditu.gov.cn), or use basemap='osm' / 'none'"
        )
    if not re.fullmatch(r"[A-Za-z0-9]+", token):
        raise PlannerError("the Tianditu token must contain letters and digits only")
    return token


def _add_tiles(m, basemap: str, language: str, tianditu_token=None):
    """Add the basemap's tile layer(s); return the base tile layer (None for "none")."""
    if basemap == "osm":
        return folium.TileLayer(
            tiles=_OSM_TILES, attr=_osm_attribution_html(), name=label("basemap_osm", language),
            max_zoom=19, overlay=False, control=True,
        ).add_to(m)
    if basemap == "amap":
        return folium.TileLayer(
            tiles=_AMAP_TILES, attr="&copy; 高德地图 AutoNavi", subdomains="1234",
            name=label("basemap_amap", language), max_zoom=18, overlay=False, control=True,
        ).add_to(m)
    if basemap == "tianditu":
        token = _tianditu_token(tianditu_token)
        base = folium.TileLayer(
            tiles=_TDT_TILES.replace("{layer}", "vec").replace("{token}", token),
            attr="&copy; 天地图 Tianditu", subdomains="01234567",
            name=label("basemap_tianditu", language), max_zoom=18, overlay=False, control=True,
        ).add_to(m)
        annotation = "cva" if language == "zh" else "eva"
        folium.TileLayer(
            tiles=_TDT_TILES.replace("{layer}", annotation).replace("{token}", token),
            attr="&copy; 天地图 Tianditu", subdomains="01234567",
            name=label("basemap_tianditu_labels", language), max_zoom=18, overlay=True,
            control=True,
        ).add_to(m)
        return base
    return None


def _osm_attribution_html() -> str:
    return f'<a href="{OSM_COPYRIGHT_URL}">{esc(OSM_ATTRIBUTION)}</a>'


def road_layer(roads, bounds, language: str = "en", system: str = "wgs84",
               max_vertices: int = MAX_ROAD_VERTICES, show: bool = True,
               margin: float = 0.6, min_margin_deg: float = 0.03) -> RoadLayer | None:
    """The road network as one light GeoJSON layer (thin greys), sized for an HTML file.

    Lines are clipped to ``bounds`` grown by ``margin`` times its size on every side (at
    least ``min_margin_deg``: the window shows more than the data), two-way duplicates are
    dropped, lines are simplified (≈3 m first) and coordinates rounded to 1e-5° (≈1 m).
    When more than ``max_vertices`` remain, minor classes (service, residential...) are
    dropped first, then the simplification is coarsened, then the shortest lines go.
    Lines are grouped into three styles by ``road_class`` (OSM highway value) when present.

    Parameters
    ----------
    roads : GeoDataFrame
        LineStrings (any CRS; reprojected to WGS-84), e.g. ``net.edges`` or raw edges.
    bounds : tuple
        ``(min_lon, min_lat, max_lon, max_lat)`` (WGS-84) of the area shown.
    language : {"en", "zh"}
        For the layer name.
    system : {"wgs84", "gcj02"}
        Display system (``gcj02`` on AMap tiles).
    max_vertices : int
        Vertex budget of the drawn network.
    show : bool
        Whether the layer is on when the map opens.

    Returns
    -------
    RoadLayer or None
        A folium layer; None when no road lies in the area.
    """
    import geopandas as gpd
    import shapely

    if not isinstance(roads, (gpd.GeoDataFrame, gpd.GeoSeries)):
        raise PlannerError(
            f"roads must be a GeoDataFrame of LineStrings, got {type(roads).__name__}")
    if roads.crs is not None and not roads.crs.equals("EPSG:4326"):
        roads = roads.to_crs("EPSG:4326")
    geoms = np.asarray(roads.geometry.values if hasattr(roads, "geometry") else roads.values,
                       dtype=object)
    if isinstance(roads, gpd.GeoDataFrame) and "road_class" in roads.columns:
        ranks = (roads["road_class"].astype(object).map(_ROAD_RANK).fillna(5)
                 .to_numpy(dtype=np.int16))
    else:
        ranks = np.full(len(geoms), 5, dtype=np.int16)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, ranks = geoms[ok], ranks[ok]
    w, s, e, n = bounds
    dx = max((e - w) * margin, min_margin_deg)
    dy = max((n - s) * margin, min_margin_deg)
    inside = shapely.intersects(shapely.box(w - dx, s - dy, e + dx, n + dy), geoms)
    geoms, ranks = geoms[inside], ranks[inside]
    clipped = shapely.clip_by_rect(geoms, w - dx, s - dy, e + dx, n + dy)
    if (shapely.get_type_id(clipped) == 1).all():
        parts = clipped
    else:
        parts, idx = shapely.get_parts(clipped, return_index=True)
        ranks = ranks[idx]
    is_line = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)  # LineString
    parts, ranks = parts[is_line], ranks[is_line]
    if len(parts) == 0:
        return None
    # drop the reverse twin of every two-way street: same end points (either order),
    # vertex count and length
    a = shapely.get_coordinates(shapely.get_point(parts, 0))
    b = shapely.get_coordinates(shapely.get_point(parts, -1))
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    keys = np.column_stack([np.round(lo, 7), np.round(hi, 7),
                            shapely.get_num_coordinates(parts),
                            np.round(shapely.length(parts), 9)])
    _, first = np.unique(keys, axis=0, return_index=True)
    first.sort()
    parts, ranks = parts[first], ranks[first]

    tol0 = 3e-5  # degrees, ~3 m
    chosen = None
    for max_rank in (99, 6, 5, 4, 3, 2, 1):
        keep = ranks <= max_rank
        if not keep.any():
            continue
        for tol in (tol0, 2 * tol0, 4 * tol0, 8 * tol0):
            simp = shapely.simplify(parts[keep], tol, preserve_topology=False)
            if shapely.get_num_coordinates(simp).sum() <= max_vertices:
                chosen = (simp, ranks[keep])
                break
        if chosen is not None:
            break
    if chosen is None:  # still too many: the longest lines of the main roads
        keep = ranks <= 1 if (ranks <= 1).any() else np.ones(len(ranks), bool)
        simp = shapely.simplify(parts[keep], 8 * tol0, preserve_topology=False)
        order = np.argsort(-shapely.length(simp))
        counts = shapely.get_num_coordinates(simp)[order]
        take = order[np.cumsum(counts) <= max_vertices]
        chosen = (simp[take], ranks[keep][take])
    lines, line_ranks = chosen
    if system != "wgs84":
        lines = shift_geometry(lines, system)
    groups = np.array([_rank_group(int(r)) for r in line_ranks])
    features = []
    # least important first so major roads are drawn on top
    lines = np.asarray(lines, dtype=object)
    for g in (2, 1, 0):
        sel = lines[groups == g]
        if len(sel) == 0:
            continue
        multi = shapely.transform(shapely.multilinestrings(sel), lambda xy: np.round(xy, 5))
        features.append('{"type":"Feature","properties":{"g":%d},"geometry":%s}'
                        % (g, shapely.to_geojson(multi)))
    if not features:
        return None
    data = '{"type":"FeatureCollection","features":[%s]}' % ",".join(features)
    return RoadLayer(data, name=esc(label("roads", language)), show=show)


def decorate_map(m, bounds, language: str = "en", basemap: str = "osm", roads=None, *,
                 tianditu_token=None, minimap: bool = False, measure: bool = False,
                 fullscreen: bool = True, layer_control: bool = True,
                 max_road_vertices: int = MAX_ROAD_VERTICES, fit: bool = True) -> None:
    """Give an existing ``folium.Map`` the planner's base: see :func:`base_map`.

    Used for the two halves of a :class:`folium.plugins.DualMap`.
    """
    check_language(language)
    _check_basemap(basemap)
    w, s, e, n = normalise_bounds(bounds)
    system = display_system(basemap)
    m._planner_context = MapContext(basemap, language, (w, s, e, n))
    tiles = _add_tiles(m, basemap, language, tianditu_token)
    if basemap == "none":
        m.get_root().header.add_child(Element(
            f"<style>#{m.get_name()} {{ background: #f7f7f2; }}</style>"),
            name=f"{m.get_name()}_background")
        if roads is None:
            warnings.warn("basemap='none' without roads: only the result layers are drawn; "
                          "pass roads=net.edges for a road background", UserWarning,
                          stacklevel=3)
    if roads is not None:
        layer = road_layer(roads, (w, s, e, n), language, system, max_road_vertices,
                           show=(basemap == "none"))
        if layer is not None:
            layer.add_to(m)
            if tiles is not None:
                m.add_child(_RoadsWhenTilesFail(tiles, layer))
    m.add_child(_Attribution(_osm_attribution_html()))
    m.add_child(_MetricScale())
    if fullscreen:
        plugins.Fullscreen(position="topleft", title=label("fullscreen", language),
                           title_cancel=label("exit_fullscreen", language)).add_to(m)
    if minimap and basemap != "none":
        mini_tiles = {"osm": _OSM_TILES, "amap": _AMAP_TILES}.get(basemap)
        if mini_tiles is not None:
            plugins.MiniMap(tile_layer=folium.TileLayer(tiles=mini_tiles, attr=" "),
                            toggle_display=False, position="bottomright").add_to(m)
    if measure:
        plugins.MeasureControl(position="topleft", primary_length_unit="kilometers",
                               secondary_length_unit="meters",
                               primary_area_unit="hectares", secondary_area_unit=None).add_to(m)
    if layer_control:
        _DeferredLayerControl(position="topright", collapsed=True).add_to(m)
    if fit:
        lon, lat = shift_lonlat([w, e], [s, n], system)
        m.add_child(_FitBounds([[lat[0], lon[0]], [lat[1], lon[1]]]))


def base_map(bounds, language: str = "en", basemap: str = "osm", roads=None, *,
             tianditu_token: str | None = None, minimap: bool = False, measure: bool = False,
             max_road_vertices: int = MAX_ROAD_VERTICES, width="100%", height="100%",
             prefer_canvas: bool = False, fit: bool = True) -> folium.Map:
    """Create the planner's base map.

    Parameters
    ----------
    bounds : tuple or GeoDataFrame
        Area to show: ``(min_lon, min_lat, max_lon, max_lat)`` in WGS-84, or a
        GeoDataFrame/GeoSeries whose total bounds are used.
    language : {"en", "zh"}
        Language of the controls and layer names.
    basemap : {"osm", "amap", "tianditu", "none"}
        Background; see the module notes. ``"amap"`` implies drawing data in GCJ-02.
    roads : GeoDataFrame, optional
        Road LineStrings (e.g. ``net.edges``); drawn as the background with
        ``basemap="none"``, otherwise as a hidden toggleable layer that turns on by itself
        when the tiles cannot load.
    tianditu_token : str, optional
        Tianditu key for ``basemap="tianditu"`` (default ``$TIANDITU_TOKEN``).
    minimap, measure : bool
        Add a mini-map (tile basemaps only) / a distance-area measuring tool.
    max_road_vertices : int
        Vertex budget of the drawn road network (keeps the HTML a few MB).
    width, height : str or int
        Map size (CSS).
    prefer_canvas : bool
        Draw vectors on a canvas (faster for very many features, but not per-element SVG).
    fit : bool
        Fit the view to ``bounds`` once the page has loaded (after the legend is drawn, so
        no data hides under it). Pass False to control the view yourself with
        ``m.fit_bounds`` (ours would run after yours otherwise).

    Returns
    -------
    folium.Map
        With scale bar, full-screen button, layer control and the OSM attribution.

    Raises
    ------
    PlannerError
        Unknown ``language``/``basemap``, invalid bounds, or a missing Tianditu token.
    """
    check_language(language)
    _check_basemap(basemap)
    w, s, e, n = normalise_bounds(bounds)
    lon, lat = shift_lonlat([(w + e) / 2], [(s + n) / 2], display_system(basemap))
    m = folium.Map(location=[float(lat[0]), float(lon[0])], zoom_start=12, tiles=None,
                   control_scale=False, width=width, height=height, prefer_canvas=prefer_canvas,
                   zoom_snap=0.25, zoom_delta=0.5)
    decorate_map(m, (w, s, e, n), language, basemap, roads, tianditu_token=tianditu_token,
                 minimap=minimap, measure=measure, max_road_vertices=max_road_vertices, fit=fit)
    return m
