"""Shared helpers of the map builders: escaping, validation, colours, legend, GeoJSON.

Private module: the public API is in :mod:`planner.maps`.
"""
from __future__ import annotations

import html
import json
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import folium
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement
from folium.template import Template

from planner.coords import shift_geometry, wgs84_to_gcj02
from planner.errors import InputError, PlannerError

# --------------------------------------------------------------------------------------
# escaping
# --------------------------------------------------------------------------------------


_EXTRA_ENTITIES = (("`", "&#96;"), ("$", "&#36;"), ("\\", "&#92;"), ("{", "&#123;"),
                   ("}", "&#125;"))


def esc(value) -> str:
    """Text from an input file made safe for HTML *and* for folium's JS template literals.

    ``html.escape`` turns ``< > & " '`` into entities so no tag or attribute can be
    injected. folium also pastes tooltip/popup HTML into JavaScript template literals
    (backtick strings) where ``${...}`` is evaluated and ``\\`` starts an escape, so backtick,
    dollar and backslash are replaced by their numeric entities too. Finally branca compiles
    every rendered script/header snippet as a *Jinja template* again, so ``{{ ... }}`` or
    ``{% ... %}`` in a supplier name would be evaluated as Python-side template code (it can
    reach ``os``): braces become ``&#123;``/``&#125;``. All display unchanged.
    ``None``/NaN give an empty string.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = html.escape(str(value), quote=True)
    for char, entity in _EXTRA_ENTITIES:
        text = text.replace(char, entity)
    return text


def js_string(text: str) -> str:
    """``text`` as a JavaScript string literal safe inside ``<script>`` (keeps non-ASCII).

    ``< > &`` cannot close the script element, and braces are escaped too because branca
    re-reads rendered scripts as Jinja templates (see :func:`esc`).
    """
    out = json.dumps(str(text), ensure_ascii=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("{", "\\u007b"),
                       ("}", "\\u007d"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(char, code)
    return out


# --------------------------------------------------------------------------------------
# number formatting
# --------------------------------------------------------------------------------------


def fmt_num(value, decimals: int = 0) -> str:
    """Number with thousands separators; NaN/None as an en dash."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:,.{decimals}f}"


def fmt_minutes(value, language: str, unreachable: str) -> str:
    """``12.3 min`` / ``12.3 分钟``; infinite as ``unreachable`` text; NaN as a dash."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return unreachable
    return f"{x:.1f} {'分钟' if language == 'zh' else 'min'}"


def fmt_share(value) -> str:
    """A share in [0, 1] as a percentage, anything else as a plain number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(x):
        return "–"
    if 0.0 <= x <= 1.0:
        return f"{100.0 * x:.1f}%"
    return fmt_num(x, 2)


# --------------------------------------------------------------------------------------
# validation and coordinates
# --------------------------------------------------------------------------------------


def require_columns(df, columns: Sequence[str], what: str) -> None:
    """Raise :class:`InputError` naming ``what`` and the missing columns."""
    if df is None:
        raise InputError(f"{what} is missing (None)")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {', '.join(missing)}; has {', '.join(map(str, df.columns))}",
            column=missing[0],
        )


def as_wgs84(gdf, what: str, empty_ok: bool = False):
    """Return ``gdf`` as a GeoDataFrame in EPSG:4326 (a CRS-less frame is taken as WGS-84).

    Rows without geometry are dropped with a warning; with ``empty_ok`` an empty geometry is a
    result (e.g. a band that reaches no road) and is dropped silently, a missing one still warns.
    """
    import geopandas as gpd

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    if empty_ok:
        gdf = gdf[~gdf.geometry.is_empty.to_numpy(bool)]
    missing = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    if missing.any():
        warnings.warn(f"{what}: {int(missing.sum())} row(s) without geometry are not drawn",
                      UserWarning, stacklevel=3)
        gdf = gdf[~missing]
    return gdf


def display_system(basemap: str) -> str:
    """Coordinate system that data must be drawn in on ``basemap``'s tiles."""
    return "gcj02" if basemap == "amap" else "wgs84"


def shift(gdf, system: str):
    """Shift WGS-84 data to ``system`` for display (a no-op for ``wgs84``)."""
    if system == "wgs84" or gdf is None or len(gdf) == 0:
        return gdf
    return shift_geometry(gdf, system)


def shift_lonlat(lon, lat, system: str):
    """Shift lon/lat arrays to ``system`` for display."""
    if system == "wgs84":
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return wgs84_to_gcj02(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def bounds_of(*frames) -> tuple[float, float, float, float]:
    """Union of the total bounds (lon/lat) of the non-empty GeoDataFrames given."""
    boxes = []
    for f in frames:
        if f is None or len(f) == 0:
            continue
        b = np.asarray(f.total_bounds, dtype=float)
        if np.all(np.isfinite(b)):
            boxes.append(b)
    if not boxes:
        raise InputError("nothing to draw: every layer given to the map is empty")
    arr = np.vstack(boxes)
    return (float(arr[:, 0].min()), float(arr[:, 1].min()),
            float(arr[:, 2].max()), float(arr[:, 3].max()))


def normalise_bounds(bounds) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` from a 4-sequence or (Geo)DataFrame/GeoSeries.

    Degenerate boxes (a single point) are padded by 0.005° so Leaflet can fit them.
    """
    if hasattr(bounds, "total_bounds"):
        obj = bounds
        if getattr(obj, "crs", None) is not None and not obj.crs.equals("EPSG:4326"):
            obj = obj.to_crs("EPSG:4326")
        bounds = obj.total_bounds
    try:
        w, s, e, n = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise PlannerError(
            "bounds must be (min_lon, min_lat, max_lon, max_lat) or a GeoDataFrame"
        ) from None
    if not all(math.isfinite(v) for v in (w, s, e, n)) or w > e or s > n:
        raise PlannerError(f"bounds {(w, s, e, n)} are not a valid lon/lat box")
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise PlannerError(f"bounds {(w, s, e, n)} are not in degrees (WGS-84 lon/lat)")
    pad = 0.005
    if e - w < 1e-6:
        w, e = w - pad, e + pad
    if n - s < 1e-6:
        s, n = s - pad, n + pad
    return w, s, e, n


def str_ids(values) -> pd.Series:
    """IDs as strings (``1`` and ``"1"`` join; floats like ``3.0`` become ``"3"``)."""
    s = pd.Series(values)

    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return s.map(one)


# --------------------------------------------------------------------------------------
# colours
# --------------------------------------------------------------------------------------

#: Slack classes (upper bounds, minutes) and colours (RdYlGn): red = late, green = slack.
SLACK_EDGES = (-10.0, 0.0, 5.0, 15.0)
SLACK_COLOURS = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")
NO_DATA_COLOUR = "#bdbdbd"
UNCOVERED_STROKE = "#67001f"

#: Technology -> (colour, short text, CSS border-radius of the marker).
TECH_STYLE = {
    "h2": ("#1f78b4", "H₂", "50%"),
    "hpc": ("#e66101", "HPC", "4px"),
    "pv_storage": ("#1b7837", "PV", "50% 50% 4px 4px"),
}
OTHER_TECH_STYLE = ("#6a3d9a", "?", "50%")
UNSERVED_COLOUR = "#d7191c"


def slack_colour(slack) -> str:
    """Colour of a slack value (minutes; NaN = no data)."""
    try:
        x = float(slack)
    except (TypeError, ValueError):
        return NO_DATA_COLOUR
    if math.isnan(x):
        return NO_DATA_COLOUR
    for edge, colour in zip(SLACK_EDGES, SLACK_COLOURS):
        if x < edge:
            return colour
    return SLACK_COLOURS[-1]


def slack_classes(language: str) -> list[tuple[str, str]]:
    """(colour, text) pairs of the slack legend."""
    unit = "分钟" if language == "zh" else "min"
    e = SLACK_EDGES
    texts = [f"< {e[0]:g} {unit}"]
    texts += [f"{lo:g} – {hi:g} {unit}" for lo, hi in zip(e[:-1], e[1:])]
    texts.append(f"≥ {e[-1]:g} {unit}")
    return list(zip(SLACK_COLOURS, texts))


def band_colours(n: int) -> list[str]:
    """``n`` blues from dark (shortest band) to light (longest band)."""
    ramp = np.array([[8, 69, 148], [33, 113, 181], [66, 146, 198], [107, 174, 214],
                     [158, 202, 225], [198, 219, 239]], dtype=float)
    if n <= 0:
        return []
    pos = np.linspace(0, len(ramp) - 1, n) if n > 1 else np.array([1.0])
    out = []
    for p in pos:
        i = int(math.floor(p))
        j = min(i + 1, len(ramp) - 1)
        c = ramp[i] + (ramp[j] - ramp[i]) * (p - i)
        out.append("#%02x%02x%02x" % tuple(int(round(v)) for v in c))
    return out


def tech_style(technology) -> tuple[str, str, str]:
    """(colour, short text, border radius) of a technology code."""
    return TECH_STYLE.get(str(technology), OTHER_TECH_STYLE)


def site_icon_html(technology, ring: str | None = None, badge: str | None = None,
                   opacity: float = 1.0) -> str:
    """HTML of a technology marker (our own markup: no input text in it)."""
    colour, text, radius = tech_style(technology)
    border = f"3px solid {ring}" if ring else "2px solid #ffffff"
    badge_html = ""
    if badge:
        badge_html = (
            f'<span style="position:absolute;right:-7px;top:-7px;width:14px;height:14px;'
            f'line-height:13px;border-radius:50%;background:{ring or "#333"};color:#fff;'
            f'font-size:12px;font-weight:bold;text-align:center;">{badge}</span>'
        )
    return (
        f'<div class="planner-site planner-site-{esc(technology)}" style="position:relative;'
        f"width:26px;height:26px;box-sizing:border-box;border-radius:{radius};"
        f"background:{colour};border:{border};opacity:{opacity};color:#fff;"
        "font:bold 10px/22px Arial,sans-serif;text-align:center;"
        f'box-shadow:0 1px 3px rgba(0,0,0,.5);">{text}{badge_html}</div>'
    )


def site_marker(lat: float, lon: float, technology, tooltip_html: str, popup_html: str,
                ring: str | None = None, badge: str | None = None, opacity: float = 1.0):
    """A folium Marker with a technology DivIcon, tooltip and popup (HTML pre-escaped)."""
    icon = folium.DivIcon(html=site_icon_html(technology, ring, badge, opacity),
                          icon_size=(26, 26), icon_anchor=(13, 13), class_name="planner-divicon")
    return folium.Marker(
        location=[float(lat), float(lon)], icon=icon,
        tooltip=folium.Tooltip(tooltip_html, sticky=True),
        popup=folium.Popup(popup_html, max_width=360),
    )


PLANT_ICON_HTML = (
    '<div class="planner-plant" style="width:18px;height:18px;box-sizing:border-box;'
    "background:#252525;border:2px solid #ffffff;box-shadow:0 1px 3px rgba(0,0,0,.6);"
    'transform:rotate(45deg);"></div>'
)


# --------------------------------------------------------------------------------------
# GeoJSON
# --------------------------------------------------------------------------------------


def _round_geom(geom, decimals: int):
    import shapely

    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def feature_collection(geoms: Iterable, properties: Iterable[dict], decimals: int = 6) -> dict:
    """GeoJSON FeatureCollection of shapely geometries with rounded coordinates."""
    import shapely

    geoms = np.asarray(list(geoms), dtype=object)
    props = list(properties)
    if len(geoms):
        texts = shapely.to_geojson(_round_geom(geoms, decimals))
    else:
        texts = []
    # a small unique id keeps folium's style switch from keying on the (long) tooltip text
    feats = [{"type": "Feature", "id": i, "properties": p, "geometry": json.loads(t)}
             for i, (t, p) in enumerate(zip(texts, props))]
    return {"type": "FeatureCollection", "features": feats}


def tooltip_for(field: str = "tip"):
    """GeoJsonTooltip showing one pre-escaped HTML property."""
    return folium.GeoJsonTooltip(fields=[field], labels=False, sticky=True)


def popup_for(field: str = "popup"):
    """GeoJsonPopup showing one pre-escaped HTML property."""
    return folium.GeoJsonPopup(fields=[field], labels=False, max_width=380)


# --------------------------------------------------------------------------------------
# legend
# --------------------------------------------------------------------------------------

LEGEND_CSS = """
.planner-legend {
  background: rgba(255,255,255,0.93); padding: 6px 9px; border-radius: 5px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 12px/1.35 "Helvetica Neue", Arial,
  "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
  color: #222; max-height: 60vh; overflow-y: auto; max-width: 260px;
}
.planner-legend h4 { margin: 0 0 4px 0; font-size: 13px; }
.planner-legend h5 { margin: 6px 0 2px 0; font-size: 12px; font-weight: 600; }
.planner-legend .planner-note { margin: 2px 0 4px 0; padding: 2px 4px; font-size: 11px; background: #fff3cd;
                                border-left: 3px solid #e0a800; }
.planner-legend .planner-row { display: flex; align-items: center; margin: 1px 0;
  white-space: nowrap; }
.planner-legend .planner-sw { display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  box-sizing: border-box; flex: none; }
.planner-legend .planner-dot { border-radius: 50%; border: 1px solid #555; }
.planner-legend .planner-box { border: 1px solid #555; }
.leaflet-tooltip, .leaflet-popup-content { font-family: "Helvetica Neue", Arial,
  "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; }
.planner-popup table { border-collapse: collapse; margin: 4px 0 0 0 !important; }
.planner-popup th, .planner-popup td { padding: 1px 6px; border-bottom: 1px solid #ddd;
  text-align: left; font-size: 12px; }
.planner-divicon { background: transparent; border: none; }
"""


class _Text(Element):
    """Finished text in a figure part, rendered as it is."""

    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        return self._text


class _PartsAsText(MacroElement):
    """A ``MacroElement`` that adds its rendered header, html and script to the page as
    finished text.

    branca's ``MacroElement.render`` wraps each rendered part in ``Element(text)``, which
    compiles that text as a Jinja template a second time and renders it again.
    """

    def render(self, **kwargs):
        figure = self.get_root()
        macros = self._template.module.__dict__
        for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
            if macros.get(part) is not None:
                target.add_child(_Text(macros[part](self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class GeoJsonLayer(folium.GeoJson, _PartsAsText):
    """``folium.GeoJson`` without branca's second template pass over its rendered script.

    For a layer of thousands of features that script is megabytes of JSON with no template
    syntax left (input text goes through :func:`esc`, which removes braces), so the second
    pass only costs time: on ``benchmarks/run.py load`` (5,000 suppliers) the maps took 42 s
    with it and 30 s without. The page is the same up to whitespace (``tests/test_maps.py``).
    """


class Legend(MacroElement):
    """A Leaflet control holding legend HTML (built from escaped text only).

    Elements carrying ``data-layers`` (space-separated JS names of map layers, see
    :meth:`LegendBuilder.follows`) are shown only while one of those layers is on the map,
    updated on Leaflet's ``overlayadd`` / ``overlayremove`` / ``baselayerchange`` events.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function() {
                var legend = L.control({position: {{ this.position_js }}});
                legend.onAdd = function() {
                    var div = L.DomUtil.create("div", "planner-legend");
                    div.innerHTML = {{ this.html_js }};
                    L.DomEvent.disableClickPropagation(div);
                    L.DomEvent.disableScrollPropagation(div);
                    return div;
                };
                var map = {{ this._parent.get_name() }};
                legend.addTo(map);
                // rows tied to layers (data-layers: their JS names) show while one of them is on
                var follow = function() {
                    legend.getContainer().querySelectorAll("[data-layers]").forEach(function(el) {
                        var on = el.getAttribute("data-layers").split(" ").some(function(name) {
                            return window[name] !== undefined && map.hasLayer(window[name]);
                        });
                        el.style.display = on ? "" : "none";
                    });
                };
                map.on("overlayadd overlayremove baselayerchange", follow);
                follow();
                setTimeout(follow, 0);
            })();
        {% endmacro %}
        """
    )

    def __init__(self, legend_html: str, position: str = "bottomleft"):
        super().__init__()
        self._name = "PlannerLegend"
        self.css = LEGEND_CSS
        self.html_js = js_string(legend_html)
        self.position_js = js_string(position)


def layer_names(*layers: Element) -> str:
    """The JS names of map layers, space-separated, for a legend's ``data-layers``."""
    return " ".join(layer.get_name() for layer in layers)


class LegendBuilder:
    """Collects legend rows; every text passed in is escaped here."""

    def __init__(self, title: str | None = None):
        self.parts: list[str] = []
        if title:
            self.parts.append(f"<h4>{esc(title)}</h4>")

    @contextmanager
    def follows(self, *layers: Element) -> Iterator[LegendBuilder]:
        """Rows added in this block show only while one of ``layers`` is on the map.

        Parameters
        ----------
        *layers : branca Element
            Map layers (e.g. :class:`GeoJsonLayer`, ``folium.FeatureGroup``) already added to
            the map. None given: the rows always show.

        Yields
        ------
        LegendBuilder
            This builder.
        """
        if not layers:
            yield self
            return
        self.parts.append(f'<div data-layers="{layer_names(*layers)}">')
        try:
            yield self
        finally:
            self.parts.append("</div>")

    def section(self, text: str) -> LegendBuilder:
        self.parts.append(f"<h5>{esc(text)}</h5>")
        return self

    def note(self, text: str) -> LegendBuilder:
        """A highlighted line, e.g. the "illustrative data" disclaimer."""
        self.parts.append(f'<div class="planner-note">{esc(text)}</div>')
        return self

    def notes(self, lines: str | Sequence[str] | None) -> LegendBuilder:
        """:meth:`note` for each of ``lines`` (one string, several, or None)."""
        for text in [lines] if isinstance(lines, str) else lines or ():
            if text:
                self.note(text)
        return self

    def swatch(self, text: str, fill: str, shape: str = "box", stroke: str = "#555",
               stroke_width: int = 1, opacity: float = 1.0) -> LegendBuilder:
        self.parts.append(
            f'<div class="planner-row"><span class="planner-sw planner-{shape}" '
            f'style="background:{fill};'
            f'border:{stroke_width}px solid {stroke};opacity:{opacity};"></span>'
            f"<span>{esc(text)}</span></div>"
        )
        return self

    def raw_icon(self, icon_html: str, text: str) -> LegendBuilder:
        """A row with our own (trusted) icon markup, scaled down, and an escaped text."""
        self.parts.append(
            '<div class="planner-row"><span style="display:inline-block;width:26px;height:26px;'
            'margin-right:6px;transform:scale(0.8);flex:none;">'
            f"{icon_html}</span><span>{esc(text)}</span></div>"
        )
        return self

    def table(self, header: Sequence[str | tuple[str, dict]],
              rows: Sequence[Sequence[tuple[str, dict]]]) -> LegendBuilder:
        """A small table; texts escaped, each cell's dict written as ``data-*`` attributes.

        A header entry is a text or a ``(text, attrs)`` pair; ``{"layers": layer_names(...)}``
        makes a column (its header and cells) follow layers like :meth:`follows`.
        """
        def cell(tag: str, text: str, attrs: dict) -> str:
            data = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in attrs.items())
            return f"<{tag}{data}>{esc(text)}</{tag}>"

        head = "".join(cell("th", *((h, {}) if isinstance(h, str) else h)) for h in header)
        body = "".join("<tr>" + "".join(cell("td", t, a) for t, a in r) + "</tr>" for r in rows)
        self.parts.append(f'<table class="planner-counts"><tr>{head}</tr>{body}</table>')
        return self

    def html(self) -> str:
        return "".join(self.parts)

    def add_to(self, m, position: str = "bottomleft") -> Legend:
        legend = Legend(self.html(), position=position)
        m.add_child(legend)
        return legend


def popup_table(title: str, rows: Sequence[tuple[str, str]], table: str = "") -> str:
    """Popup HTML: bold escaped title, escaped key/value rows (values already formatted).

    ``rows`` values must be plain text (escaped here); ``table`` is pre-built HTML.
    """
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return (f'<div class="planner-popup"><b>{esc(title)}</b>'
            f"<table>{body}</table>{table}</div>")
