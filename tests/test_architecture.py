"""The layer rules of docs/DESIGN.md, enforced on the imports of every module of the package.

Each module is parsed (module-level and function-level imports, relative ones resolved); an
import from a later layer to an earlier one is allowed, the other way round is not.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planner"

#: (module prefix, layer) in the order of the table in docs/DESIGN.md; the longest prefix wins.
LAYERS: dict[str, int] = {
    "planner.errors": 0, "planner.vocab": 0, "planner.settings": 0, "planner._io": 0, "planner._headers": 0,
    "planner._charts": 0, "planner.technology": 0,
    "planner.coords": 1,
    "planner.scenario": 2,
    "planner.sites": 3, "planner.site_files": 3, "planner.site_checks": 3, "planner.geocode": 3, "planner.study_area": 3,
    "planner.network": 4, "planner.network.download": 4,
    "planner.routing": 5, "planner.isochrones": 5,
    "planner.supply_circle": 6, "planner.data_extent": 6,
    "planner.siting": 7,
    "planner.stations": 8,
    "planner.maps": 9,
    "planner.outputs": 10,
    "planner.compare": 11, "planner.reporting": 11,
    "planner.pipeline": 12, "planner.programme": 12, "planner.notebook": 12,
    "planner.cli": 13,
    "planner": 14,
}
#: Modules that read or write files: the model library must import none of them.
IO_MODULES = ("planner.sites", "planner.site_files", "planner.outputs", "planner._io", "planner.network.osm", "planner.network.download",
              "planner.network.layer",
              "planner.maps", "planner.pipeline", "planner.compare", "planner.geocode", "planner.study_area",
              "planner.reporting", "planner.programme", "pyogrio", "fiona")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``; ``from x import y`` also yields
    ``x.y`` so that importing a submodule by name counts as importing it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod != "planner":  # "from planner import x" imports the submodule x, not the facade
                out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


def _project(mod: str) -> bool:
    if mod != "planner" and not mod.startswith("planner."):
        return False
    # "from planner.x import name": keep only names that are modules or packages
    rel = Path(*mod.split(".")[1:]) if mod != "planner" else Path()
    return (PACKAGE / rel).is_dir() or (PACKAGE / rel).with_suffix(".py").is_file()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_nothing_imports_upward(path):
    me = _module_name(path)
    mine = _layer(me)
    upward = [f"line {line}: {mod} (layer {_layer(mod)} > {mine})" for line, mod in _imports(path)
              if _project(mod) and _layer(mod) > mine]
    assert not upward, f"{me} (layer {mine}) imports from a later layer: {upward}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "siting").glob("*.py")), ids=lambda p: p.name)
def test_model_library_does_no_io_and_never_sees_the_scenario(path):
    bad = [(line, mod) for line, mod in _imports(path)
           if mod == "planner.scenario" or any(mod == m or mod.startswith(m + ".") for m in IO_MODULES)]
    assert not bad, f"planner.siting.{path.stem} imports I/O or the scenario: {bad}"
    src = path.read_text(encoding="utf-8")
    for call in ("read_csv", "to_csv", "read_file", "to_file", "open(", "write_text", "read_text"):
        assert call not in src, f"planner.siting.{path.stem} does file I/O ({call})"


@pytest.mark.parametrize("path", [p for p in MODULES if _layer(_module_name(p)) < LAYERS["planner.pipeline"]
                                  and _module_name(p) != "planner.scenario"],
                         ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_domain_code_never_takes_the_scenario_or_the_run_log(path):
    bad = [(line, mod) for line, mod in _imports(path)
           if mod.startswith("planner.scenario") or mod.startswith("planner.pipeline")]
    assert not bad, f"{_module_name(path)} imports the scenario or the pipeline: {bad}"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = {a.arg for a in node.args.args + node.args.kwonlyargs}
            assert not args & {"sc", "scenario"}, f"{_module_name(path)}.{node.name} takes the scenario"


def test_only_the_milp_layer_talks_to_highs():
    # one way to HiGHS: models and station code build on planner.siting._milp (MilpModel, LpRelaxation)
    direct = [f"{_module_name(p)} line {line}: {mod}" for p in MODULES if p != PACKAGE / "siting" / "_milp.py"
              for line, mod in _imports(p)
              if mod.split(".")[0] == "highspy" or mod in ("scipy.optimize.milp", "scipy.optimize.linprog")]
    assert not direct, f"use planner.siting.MilpModel instead: {direct}"


def test_no_module_is_over_900_lines():
    big = {str(p.relative_to(PACKAGE.parent)): n for p in MODULES
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 900}
    assert not big, f"modules over 900 lines: {big}"


def test_the_layer_table_covers_every_module():
    # a new top-level module must be placed in a layer on purpose (not fall through to the facade)
    unplaced = [m for m in map(_module_name, MODULES) if m != "planner"
                and max((p for p in LAYERS if m == p or m.startswith(p + ".")), key=len) == "planner"]
    assert not unplaced, f"add these modules to LAYERS and docs/DESIGN.md: {unplaced}"


def test_one_atomic_writer():
    # files are written through planner._io (atomic_path / atomic_write_text); only outputs swaps
    # whole run folders into place
    swaps = ("os.replace(", "os.rename(", "tempfile.mkstemp(", "shutil.move(")
    found = [f"{_module_name(p)}: {call}" for p in MODULES
             if p.name != "_io.py" and p != PACKAGE / "outputs.py"
             for call in swaps if call in p.read_text(encoding="utf-8")]
    assert not found, f"write files with planner._io.atomic_path / atomic_write_text: {found}"


@pytest.mark.parametrize("path", sorted([*(PACKAGE.parent / "benchmarks").glob("*.py"),
                                         *(PACKAGE.parent / "scripts").glob("*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_benchmarks_and_scripts_import_names_that_exist(path):
    # benchmarks import inside functions, so a moved name only breaks when someone runs them
    import importlib
    import importlib.util

    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "planner":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name) and importlib.util.find_spec(f"{node.module}.{alias.name}") is None:
                    missing.append(f"line {node.lineno}: {node.module}.{alias.name}")
    assert not missing, f"{path.name} imports names that do not exist: {missing}"
