"""The house rules of the layout: zoho/ and runs/ know no Airflow, layers import downwards only."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "airflow_crm_provider"
#: Layers from the bottom up; a module may import its own layer or lower ones only.
LAYERS = ["zoho", "hooks", "triggers", "runs", "operators"]


def modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if "testing" not in parts:
            found[".".join(parts)] = path
    return found


def imports(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports, at any depth (function bodies and TYPE_CHECKING blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_the_zoho_client_imports_nothing_from_airflow():
    for module, path in modules().items():
        if layer(module) == 0:
            airflow = sorted(n for n in imports(path) if n == "airflow" or n.startswith("airflow."))
            assert not airflow, f"{module} imports {airflow}"


def test_the_write_engine_imports_nothing_from_airflow_nor_from_the_layers_above():
    for module, path in modules().items():
        if layer(module) == LAYERS.index("runs"):
            names = imports(path)
            airflow = sorted(n for n in names if n == "airflow" or n.startswith("airflow."))
            assert not airflow, f"{module} imports {airflow}"
            above = sorted(
                n for n in names if layer(n) in (LAYERS.index("triggers"), LAYERS.index("operators"))
            )
            assert not above, f"{module} imports {above}: the engine hands Airflow objects to no one"


def test_importing_the_write_engine_loads_no_airflow_module():
    engine = sorted(m for m in modules() if layer(m) == LAYERS.index("runs"))
    loaded = "[m for m in sys.modules if m.split('.')[0] == 'airflow']"
    code = f"import sys; import {', '.join(engine)}; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_operators_package_holds_only_airflow_adapters():
    operators = sorted(
        m.rsplit(".", 1)[-1] for m in modules() if m.startswith("airflow_crm_provider.operators.")
    )
    assert operators == [
        "base",
        "lineage",
        "links",
        "mass_update",
        "revert",
        "rows_base",
        "update_records",
        "upsert",
    ]


def test_layers_import_downwards_only_and_without_circles():
    known = modules()
    graph = {
        module: {n for n in imports(path) if n in known and n != module} for module, path in known.items()
    }
    for module, targets in graph.items():
        for target in targets:
            if layer(module) is not None and layer(target) is not None:
                assert layer(target) <= layer(module), f"{module} imports {target}, a higher layer"
            if layer(module) is not None:
                assert target != "airflow_crm_provider", f"{module} imports the package root"

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            pytest.fail(f"import circle: {' -> '.join([*path[path.index(node) :], node])}")
        for target in graph[node]:
            visit(target, [*path, node])

    for module in graph:
        visit(module, [])


def test_only_the_operator_modules_touch_the_task_context():
    touching = sorted(
        module
        for module, path in modules().items()
        if "Context" in {n.rsplit(".", 1)[-1] for n in imports(path) if n.startswith("airflow")}
    )
    assert touching == [
        "airflow_crm_provider.operators.base",
        "airflow_crm_provider.operators.mass_update",
        "airflow_crm_provider.operators.revert",
        "airflow_crm_provider.operators.rows_base",
        "airflow_crm_provider.operators.update_records",
        "airflow_crm_provider.operators.upsert",
    ]
