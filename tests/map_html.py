"""Read back what a saved map shows: its GeoJSON features and its legend's count cells.

Independent of the map builders: parses the HTML text only (JSON objects and ``data-*``
attributes), so a test can check a map against the CSV tables of the same run.
"""
from __future__ import annotations

import html as html_mod
import json
import re

_DECODER = json.JSONDecoder()


def layers(page: str) -> list[dict]:
    """Every GeoJSON layer of the page: ``var`` (its JS name), ``shown`` (on when the map opens)
    and ``features``, in drawing order."""
    out = []
    for m in re.finditer(r'(geo_json_\w+)_add\((?=\{)', page):
        obj, _ = _DECODER.raw_decode(page, m.end())
        out.append({"var": m.group(1), "shown": f"{m.group(1)}.addTo(" in page,
                    "features": obj.get("features", [])})
    return out


def features(page: str) -> list[dict]:
    """Every GeoJSON feature embedded in the page, layer after layer."""
    return [f for layer in layers(page) for f in layer["features"]]


def data_cells(page: str, key: str) -> list[dict]:
    """Attributes of every legend cell carrying ``data-<key>`` (the legend is JSON-escaped in a script)."""
    text = page.replace('\\"', '"').replace("\\u003c", "<").replace("\\u003e", ">")
    cells = []
    for m in re.finditer(r"<t[dh]((?:\s+data-[\w-]+=\"[^\"]*\")+)>", text):
        attrs = {k: html_mod.unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', m.group(1))}
        if key in attrs:
            cells.append(attrs)
    return cells


def red_over_served(page: str, red: str = "#d7191c") -> int:
    """Points the default view shows red (unserved) on top of a served marker at the same place.

    Looks at the layers on when the map opens, in drawing order: the last marker drawn at a
    place is the one seen; it counts when it is filled ``red`` while another shown marker there
    is not.
    """
    seen: dict[tuple, list[str]] = {}
    for layer in layers(page):
        if not layer["shown"]:
            continue
        for f in layer["features"]:
            g = f.get("geometry") or {}
            fill = f["properties"].get("fill")
            if g.get("type") == "Point" and fill:
                seen.setdefault(tuple(g["coordinates"]), []).append(fill)
    return sum(1 for fills in seen.values() if fills[-1] == red and any(x != red for x in fills[:-1]))
