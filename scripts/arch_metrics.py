"""Architecture figures for the closing note of issue #16 (kept out of the package).

Prints: largest module (lines), functions taking the scenario, modules doing file I/O, and
function-level imports of project modules. Usage: ``python scripts/arch_metrics.py [planner_dir]``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

# Calls that read or write files (pandas/geopandas/pyogrio/open/Path methods).
_IO = re.compile(
    r"\b(open\(|read_csv|to_csv|read_file|to_file|read_parquet|to_parquet|read_excel|to_excel|"
    r"write_text|read_text|write_bytes|read_bytes|json\.dump\(|json\.load\(|pyogrio\.|"
    r"os\.replace|shutil\.|mkdtemp|np\.save|np\.load|\.save\()"
)


def _is_project_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").startswith("planner")
    return isinstance(node, ast.Import) and any(a.name.startswith("planner") for a in node.names)


def main(root: Path) -> None:
    files = sorted(root.rglob("*.py"))
    sizes = {f: len(f.read_text().splitlines()) for f in files}
    big = max(sizes, key=sizes.get)
    takes_sc = []
    lazy = 0
    io_mods = []
    for f in files:
        src = f.read_text()
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs]
                ann = [ast.unparse(a.annotation) for a in node.args.args + node.args.kwonlyargs if a.annotation]
                if "sc" in args or "scenario" in args or any(a.endswith("Scenario") for a in ann):
                    takes_sc.append(f"{f.relative_to(root.parent)}:{node.lineno} {node.name}")
                for sub in ast.walk(node):
                    lazy += _is_project_import(sub)
        if _IO.search(src):
            io_mods.append(str(f.relative_to(root.parent)))
    print(f"modules={len(files)} lines={sum(sizes.values())}")
    print(f"largest_module={big.relative_to(root.parent)} lines={sizes[big]}")
    print(f"modules_over_900={[str(f.relative_to(root.parent)) for f, n in sizes.items() if n > 900]}")
    print(f"functions_taking_scenario={len(takes_sc)}")
    outside = [t for t in takes_sc if not t.startswith(("planner/pipeline", "planner/cli.py"))]
    print(f"functions_taking_scenario_outside_pipeline_and_cli={len(outside)}")
    print(f"modules_doing_file_io={len(io_mods)}")
    print(f"function_level_project_imports={lazy}")
    if "-v" in sys.argv:
        print("\n".join(takes_sc))
        print("\n".join(io_mods))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    main(Path(args[0]) if args else Path(__file__).resolve().parents[1] / "planner")
