"""What an index shows of the package: classifiers, dependency bounds, and a README whose links resolve."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: Lower bounds as Airflow's own packages declare them (apache-airflow-core, the task SDK, the http
#: provider); the http provider's is the lowest the floor lock tests.
BOUNDS = {"apache-airflow-providers-http": "6.2.0", "requests": "2.32.0", "pendulum": "3.1.0"}


def test_classifiers_name_the_pythons_the_status_and_the_airflow_framework() -> None:
    classifiers = set(PROJECT["classifiers"])
    versions = [re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c) for c in classifiers]
    pythons = {m.group(1) for m in versions if m}
    assert pythons == {"3.10", "3.11", "3.12", "3.13"}
    assert PROJECT["requires-python"] == ">=3.10"
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert {"Framework :: Apache Airflow", "Framework :: Apache Airflow :: Provider"} <= classifiers


@pytest.mark.parametrize(("name", "floor"), sorted(BOUNDS.items()))
def test_dependencies_have_airflows_lower_bounds(name: str, floor: str) -> None:
    (requirement,) = [r for r in map(Requirement, PROJECT["dependencies"]) if r.name == name]
    assert f">={floor}" in {str(s) for s in requirement.specifier}, requirement
    assert floor in requirement.specifier


def test_every_dependency_has_a_lower_bound() -> None:
    for requirement in map(Requirement, PROJECT["dependencies"]):
        assert any(s.operator == ">=" for s in requirement.specifier), requirement


def _relative_links(text: str) -> list[str]:
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link.split("#")[0] for link in links if not re.match(r"[a-z]+:|#", link)]


def test_the_readmes_links_resolve_in_the_sdist(tmp_path: Path) -> None:
    """An index renders the sdist's README: each relative link in it (and in the pages it links) is there."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("airflow_crm_provider-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {PurePosixPath(*PurePosixPath(m.name).parts[1:]): m for m in archive.getmembers()}
        checked = 0
        pending = [PurePosixPath("README.md")]
        seen: set[PurePosixPath] = set()
        while pending:
            page = pending.pop()
            if page in seen or page.suffix != ".md":
                continue
            seen.add(page)
            text = archive.extractfile(members[page]).read().decode()
            for link in _relative_links(text):
                target = PurePosixPath(*(page.parent / link).parts)
                resolved = PurePosixPath(*_normalise(target.parts))
                assert resolved in members, f"{page} links {link!r}, which is not in the sdist"
                pending.append(resolved)
                checked += 1
    assert checked >= 5  # the README links the four guides and the examples' README


def _normalise(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            out.pop()
        elif part not in ("", "."):
            out.append(part)
    return out
