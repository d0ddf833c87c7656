"""The packages import from this repository, and the layers import only downwards."""

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "lvae", "envs", "flows")
# What each package may import of the others: data -> pipeline -> lvae -> envs, flows on top.
ALLOWED = {
    "lvae": set(),
    "pipeline": {"lvae"},
    "envs": {"lvae", "pipeline"},
    "flows": {"lvae", "pipeline", "envs"},
}
# Third-party packages only one place may import.
OWNERS = {"prefect": "flows", "prefect_dask": "flows", "gymnasium": "envs", "stable_baselines3": "envs"}


@pytest.mark.parametrize("name", PACKAGES)
def test_packages_import_from_this_repository(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == REPO / name


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_import_only_downwards(package):
    for path in (REPO / package).rglob("*.py"):
        imported = _imports(path)
        upward = (imported & set(PACKAGES)) - ALLOWED[package] - {package}
        assert not upward, f"{path.relative_to(REPO)} imports {sorted(upward)}"
        for lib, owner in OWNERS.items():
            assert lib not in imported or package == owner, f"{path.relative_to(REPO)} imports {lib}"
        if "yfinance" in imported:
            assert path == REPO / "pipeline" / "ingest.py", f"{path.relative_to(REPO)} imports yfinance"
