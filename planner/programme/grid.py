"""Scenario grids: ``KEY=VALUES`` arguments into combinations of scenario overrides."""
from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal, InvalidOperation

from planner.errors import ScenarioError
from planner.scenario import Scenario, scenario_from_dict

__all__ = ["parse_values", "parse_grid", "combinations", "apply_overrides", "scenario_key"]


def _scalar(text: str):
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return t


def parse_values(text: str) -> list:
    """Values of one grid key: ``a:b:step`` (inclusive range) or ``v1,v2,...``.

    >>> parse_values("5000:15000:5000")
    [5000, 10000, 15000]
    >>> parse_values("0.5,0.65,0.8")
    [0.5, 0.65, 0.8]
    """
    text = text.strip()
    if not text:
        raise ValueError("no values")
    parts = text.split(":")
    if len(parts) == 3 and "," not in text:
        try:
            a, b, step = (Decimal(p.strip()) for p in parts)
        except InvalidOperation:
            raise ValueError(f"range '{text}' must be numbers start:stop:step") from None
        if step <= 0 or b < a:
            raise ValueError(f"range '{text}' needs start <= stop and a positive step")
        n = int((b - a) / step) + 1
        if n > 10_000:
            raise ValueError(f"range '{text}' has {n} values (at most 10,000)")
        vals = [a + k * step for k in range(n)]
        whole = all(v == v.to_integral_value() for v in vals)
        return [int(v) if whole else float(v) for v in vals]
    return [_scalar(p) for p in text.split(",") if p.strip()]


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["siting.budget_wan=5000:30000:2500", ...]`` -> ``{key: values}`` (order kept)."""
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f"grid item '{item}' must be KEY=VALUES (e.g. siting.budget_wan=5000:30000:2500)",
                                key="--grid")
        if key in grid:
            raise ScenarioError(f"grid key '{key}' is given twice", key="--grid")
        try:
            grid[key] = parse_values(values)
        except ValueError as exc:
            raise ScenarioError(f"grid key '{key}': {exc}", key="--grid") from None
    return grid


def combinations(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, the last key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def scenario_key(overrides: dict) -> str:
    """A short stable name for a combination (same overrides, same name)."""
    text = json.dumps(overrides, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def apply_overrides(sc: Scenario, overrides: dict) -> Scenario:
    """A new scenario with dotted keys set (validated like a scenario file).

    Raises
    ------
    ScenarioError
        A key that names no scenario setting, or a value of the wrong type.
    """
    data = sc.model_dump(mode="json")
    for key, value in overrides.items():
        node = data
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node or node[part] is None:
                where = ".".join(parts[: i + 1])
                raise ScenarioError(f"grid key '{key}': the scenario has no '{where}'", path=sc.source_path, key=key)
            node = node[part]
        if not isinstance(node, dict):
            raise ScenarioError(f"grid key '{key}' does not name a setting", path=sc.source_path, key=key)
        node[parts[-1]] = value
    return scenario_from_dict(data, base_dir=sc.base_dir, source_path=sc.source_path)
