"""The project's install files agree with each other and with the README."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in meta["dependencies"]}
    for extra in ("test", "bench", "lint"):
        wanted |= {_name(r): r.replace(" ", "") for r in meta["optional-dependencies"][extra]}
    conda = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^\s+-\s+([A-Za-z0-9_.\-]+)(.*)$", line)
        if m and m.group(1) not in ("python", "pip"):
            conda[m.group(1).lower()] = (m.group(1) + m.group(2)).replace(" ", "")
    assert set(conda) == set(wanted), (set(conda) ^ set(wanted))
    for name, req in wanted.items():
        assert conda[name].lower() == req.lower(), (name, conda[name], req)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, flags=re.M)
    assert "make test" in commands and "make demo" in commands
    assert re.search(r"^make test$", ci, flags=re.M)


def test_layout_folders_exist_with_readmes():
    for d in ("data/raw", "data/processed", "maps"):
        assert (ROOT / d / "README.md").exists(), d
    for d in ("planner", "notebooks", "tests", "benchmarks", "scenarios"):
        assert (ROOT / d).is_dir(), d
