"""docs/scenario_reference.md is generated from the schema and must be current."""
import importlib.util
from pathlib import Path

from planner.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_scenario_reference",
                                                  ROOT / "scripts" / "make_scenario_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_reference_is_current():
    text = _script().render()
    committed = (ROOT / "docs" / "scenario_reference.md").read_text(encoding="utf-8")
    assert committed == text, "docs/scenario_reference.md is stale: run python scripts/make_scenario_reference.py"


def _all_fields(model, seen=None):
    """(model, field name, FieldInfo) of every key, walking sub-models (independent of the script)."""
    import typing

    from pydantic import BaseModel
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    for name, f in model.model_fields.items():
        if f.exclude:
            continue
        yield model, name, f
        stack = [f.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                yield from _all_fields(tp, seen)
            stack.extend(typing.get_args(tp))


def test_every_key_has_a_description_and_a_row():
    text = _script().render()
    fields = list(_all_fields(Scenario))
    assert len(fields) > 100
    missing = [f"{m.__name__}.{n}" for m, n, f in fields if not (f.description or "").strip()]
    assert not missing, missing
    for m, n, f in fields:
        assert f"| `{n}` | {f.description.replace('|', chr(92) + '|')} |" in text, f"{m.__name__}.{n}"
    for section in ("## `[programme]`", "## `[report]`", "## `[siting.study_area]`", "## `[sites.plants]`",
                    "## `[[restrictions]]`", "## `[profiles.<name>]`", "## `[siting.technologies.<name>]`"):
        assert section in text, section
    assert "| `geocoder` |" in text and "| `geocoder_url` |" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) >= len(fields) and not [r for r in rows if r.endswith("| — |")], "a key without an example"
