"""Read back what a saved map shows: its GeoJSON features and its legend's count cells.

Independent of the map builders: parses the HTML text only (JSON objects and ``data-*``
attributes), so a test can check a map against the CSV tables of the same run.
"""
from __future__ import annotations

import html as html_mod
import json
import re

_DECODER = json.JSONDecoder()


def features(page: str) -> list[dict]:
    """Every GeoJSON feature embedded in the page (from each FeatureCollection literal)."""
    out = []
    for m in re.finditer(r'\{"bbox"|\{"features"', page):
        try:
            obj, _ = _DECODER.raw_decode(page, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
            out.extend(obj["features"])
    return out


def data_cells(page: str, key: str) -> list[dict]:
    """Attributes of every legend cell carrying ``data-<key>`` (the legend is JSON-escaped in a script)."""
    text = page.replace('\\"', '"').replace("\\u003c", "<").replace("\\u003e", ">")
    cells = []
    for m in re.finditer(r"<t[dh]((?:\s+data-[\w-]+=\"[^\"]*\")+)>", text):
        attrs = {k: html_mod.unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', m.group(1))}
        if key in attrs:
            cells.append(attrs)
    return cells
