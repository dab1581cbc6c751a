"""Write docs/scenario_reference.md from the scenario schema (planner/scenario.py).

Every key of a scenario file with its meaning (the field's ``description``), unit, type, default and
an example (the value in the shipped demo ``scenarios/yizhuang.toml`` where it sets the key, else
the default). Run: ``python scripts/make_scenario_reference.py``; tests/test_scenario_reference.py
checks the committed file is current.
"""
from __future__ import annotations

import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from planner.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "scenario_reference.md"
DEMO = ROOT / "scenarios" / "yizhuang.toml"

#: unit by key-name suffix (the schema's naming convention), longest suffix first
UNITS = [("_kwh_per_m2", "kWh/m²/yr"), ("_per_km", "per km"), ("_kmh", "km/h"), ("_kva", "kVA"), ("_wan", "万元"),
         ("_min", "minutes"), ("_m2", "m²"), ("_m", "metres"), ("_s", "seconds"), ("_hour", "hour of day"),
         ("_share", "share 0–1")]
UNIT_BY_KEY = {"hours": "hours of day", "bbox": "degrees (WGS-84)", "factor": "factor", "factors": "factor",
               "maxspeed_factor": "factor", "mip_gap": "share 0–1", "speed_scales": "factor"}

#: examples of optional keys the demo leaves unset and that have no default (illustrative values)
EXAMPLES: dict[str, Any] = {
    "place": "北京经济技术开发区", "bbox": [116.45, 39.70, 116.60, 39.82], "polygon": "data/etown.geojson",
    "metric_crs": "EPSG:32650", "overpass_url": "https://overpass.example.gov.cn/api",
    "nominatim_url": "https://nominatim.example.gov.cn/", "oneway": "oneway", "hgv": "hgv",
    "id_column": "编号", "name_column": "名称", "lon_column": "经度", "lat_column": "纬度",
    "weight_column": "年配送次数", "plants_column": "服务工厂", "sheet": "供应商", "layer": "sites",
    "address_column": "地址", "geocoder": "amap", "geocoder_url": "https://geocode.example.gov.cn/v3/geocode/geo",
    "geocoder_qps": 3, "smooth_m": 30, "target_share": 0.8, "max_stations": 4,
    "land": {"path": "data/industrial_land.gpkg"},
    "max_kmh": 15, "allowed_classes": ["secondary", "tertiary", "residential"], "zone": "data/av_zone.geojson",
    "curve": [0.1] * 6 + [0.6, 1.0, 1.0, 0.7] + [0.5] * 7 + [1.0, 1.0, 0.7] + [0.3] * 4,
    "ev_sessions_per_day": 5000, "session_kwh": 35, "charger_kw": 600, "flexible_share": 0.3,
    "max_wait_min": 5, "max_p_wait": 0.1, "specific_yield_kwh_per_kwp": 1010, "canopy_share": 1.0,
    "capex_per_kwh_wan": 0.0465, "h2_truck_speed_kmh": 35, "v2g_price_yuan_kwh": 0.9,
}


def _unit(key: str) -> str:
    if key in UNIT_BY_KEY:
        return UNIT_BY_KEY[key]
    for suffix, unit in UNITS:
        if key.endswith(suffix):
            return unit
    return ""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a, ensure_ascii=False) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("…" if a is Ellipsis else _type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if tp is type(None):
        return "none"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "table"
    return getattr(tp, "__name__", str(tp))


def _models(tp: Any) -> list[tuple[str, type[BaseModel]]]:
    """Sub-models reachable from an annotation with the key suffix they live under."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [("", tp)]
    if origin in (typing.Union, types.UnionType):
        return [m for a in args for m in _models(a)]
    if origin is dict:
        return [(".<name>", m) for _, m in _models(args[1])]
    if origin is list:
        return [("[]", m) for _, m in _models(args[0])]
    return []


def _lookup(data: Any, parts: list[str]) -> Any:
    """The demo's value at a key path (``<name>``: its first entry; ``[]``: its first item)."""
    for p in parts:
        if p.endswith("[]"):
            data = data.get(p[:-2]) if isinstance(data, dict) else None
            data = data[0] if isinstance(data, list) and data else None
        elif p == "<name>":
            data = next(iter(data.values()), None) if isinstance(data, dict) and data else None
        else:
            data = data.get(p) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def _toml(v: Any) -> str:
    if isinstance(v, BaseModel):
        return "(table below)"
    if isinstance(v, dict) and not v:
        return "{}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _sections(model: type[BaseModel], parts: list[str], out: list[tuple[list[str], type[BaseModel]]]) -> None:
    out.append((parts, model))
    for name, f in model.model_fields.items():
        if f.exclude:
            continue
        for suffix, sub in _models(f.annotation):
            sub_parts = [name + "[]"] if suffix == "[]" else [name, "<name>"] if suffix else [name]
            _sections(sub, parts + sub_parts, out)


def render() -> str:
    """The reference as Markdown text."""
    demo = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    sections: list[tuple[list[str], type[BaseModel]]] = []
    _sections(Scenario, [], sections)
    lines = ["# Scenario file reference", "",
             "Generated from the schema in `planner/scenario.py` by `scripts/make_scenario_reference.py` — "
             "do not edit by hand (a test checks this file is current).", "",
             "A scenario is one TOML file. Paths resolve against the scenario file's folder, except those "
             "starting with `${PLANNER_DATA_DIR}`. Unknown keys are errors. `<name>` stands for a name you "
             "choose (e.g. `[profiles.peak]`); `[]` marks an array of tables (`[[restrictions]]`). "
             "*Example* is the value in the demo `scenarios/yizhuang.toml` where it sets the key, else the "
             "default, else an illustrative value. Units follow the key's suffix (`_min` minutes, `_m` metres, `_s` seconds, `_wan` 万元, "
             "`_kmh` km/h).", ""]
    seen: set[str] = set()
    for parts, model in sections:
        prefix = ".".join(parts)
        heading = prefix or "(top level)"
        if heading in seen:  # the same table reached through a union twice
            continue
        seen.add(heading)
        title = f"[[{prefix[:-2]}]]" if prefix.endswith("[]") else f"[{prefix}]" if prefix else "top level"
        lines += [f"## `{title}`", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        if doc and prefix and model.__doc__ != BaseModel.__doc__:
            lines += [doc, ""]
        lines += ["| key | meaning | unit | type | default | example |", "|---|---|---|---|---|---|"]
        for name, f in model.model_fields.items():
            if f.exclude:
                continue
            if f.is_required():
                default = "**required**"
            elif f.default_factory is not None:
                default = _toml(f.default_factory())  # type: ignore[call-arg]
            elif f.default is PydanticUndefined or f.default is None:
                default = "—"
            else:
                default = _toml(f.default)
            example = _lookup(demo, parts + [name])
            if example is None and default == "—":
                example = EXAMPLES.get(name)
            is_table = bool(_models(f.annotation)) and isinstance(example, (dict, list))
            shown = "see below" if is_table else (_toml(example) if example is not None else default)
            lines.append("| " + " | ".join(_cell(c) for c in (
                f"`{name}`", f.description or "", _unit(name), _type_name(f.annotation), f"`{default}`"
                if default not in ("—", "**required**") else default,
                f"`{shown}`" if shown not in ("—", "**required**", "see below") else shown)) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
