"""environment.yml (conda) lists the same packages, with the same minimum versions, as pyproject.

pyproject.toml's [project].dependencies plus the `test` and `serve` extras are the source of
truth; a package added to (or dropped from) one file and not the other fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
#: What conda needs besides the project's packages: the interpreter and pip itself.
CONDA_ONLY = {"python", "pip"}

_REQUIREMENT = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)   # distribution name
        \s*(?:\[[^\]]*\])?                          # extras, ignored
        \s*(?P<spec>[^;#]*)                         # version specifiers
    """,
    re.VERBOSE,
)


def normalise(name: str) -> str:
    """PEP 503 name normalisation: case, '_', '.' and '-' do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _minimum(spec: str) -> str | None:
    """The minimum version in a pip (``>=1.2``) or conda (``>=1.2``, ``=1.2``, ``1.2``) spec."""
    spec = spec.replace(" ", "")
    if not spec:
        return None
    for part in spec.split(","):
        match = re.fullmatch(r"(>=|==|=|~=)?([0-9][A-Za-z0-9.*+!-]*)", part)
        if match:
            return match.group(2).rstrip(".*")
    return None


def parse_requirement(text: str) -> tuple[str, str | None]:
    match = _REQUIREMENT.match(text)
    if match is None:
        raise ValueError(f"cannot read requirement {text!r}")
    return normalise(match.group("name")), _minimum(match.group("spec"))


def pyproject_packages(data: dict[str, Any]) -> dict[str, str | None]:
    project = data["project"]
    requirements = list(project["dependencies"])
    for extra in ("test", "serve"):
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    return dict(parse_requirement(item) for item in requirements)


def environment_packages(data: dict[str, Any]) -> dict[str, str | None]:
    packages: dict[str, str | None] = {}
    for item in data["dependencies"]:
        entries = item.get("pip", []) if isinstance(item, dict) else [item]
        for entry in entries:
            entry = str(entry).strip()
            if entry.startswith("-"):  # pip options such as `-e .` (the project itself)
                continue
            entry = entry.split("::")[-1]  # conda channel prefix, e.g. conda-forge::pandas
            name, minimum = parse_requirement(entry)
            if name not in CONDA_ONLY:
                packages[name] = minimum
    return packages


def differences(pyproject: dict[str, str | None], environment: dict[str, str | None]) -> list[str]:
    problems = [f"{name} is in pyproject.toml but not in environment.yml"
                for name in sorted(pyproject.keys() - environment.keys())]
    problems += [f"{name} is in environment.yml but not in pyproject.toml"
                 for name in sorted(environment.keys() - pyproject.keys())]
    problems += [
        f"{name}: minimum {pyproject[name]} in pyproject.toml, {environment[name]} in "
        "environment.yml"
        for name in sorted(pyproject.keys() & environment.keys())
        if pyproject[name] != environment[name]
    ]
    return problems


def test_environment_yml_lists_the_same_packages_and_minimums_as_pyproject() -> None:
    pyproject = pyproject_packages(tomllib.loads((REPO / "pyproject.toml").read_text("utf-8")))
    environment = environment_packages(
        yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    )
    assert len(pyproject) >= 10  # the parse found the lists at all
    assert differences(pyproject, environment) == []


# --- the checker itself -----------------------------------------------------------------------

_PYPROJECT = {
    "project": {
        "dependencies": ["pandas>=2.2", "PyYAML>=6.0", "jupyter_client>=8.6",
                         "weasyprint[extra]>=62; python_version>'3'"],
        "optional-dependencies": {"test": ["pytest>=8", "pandas-stubs"], "docs": ["sphinx"]},
    }
}
_ENVIRONMENT = {
    "dependencies": ["python=3.11", "pip", "pandas>=2.2", "pyyaml>=6.0", "jupyter-client>=8.6",
                     "conda-forge::weasyprint>=62", "pytest>=8",
                     {"pip": ["-e .", "pandas_stubs"]}],
}


def test_checker_accepts_names_differing_only_in_case_underscore_or_hyphen() -> None:
    assert differences(pyproject_packages(_PYPROJECT), environment_packages(_ENVIRONMENT)) == []


@pytest.mark.parametrize(
    ("side", "entry", "problem"),
    [
        ("pyproject", "seaborn>=0.13", "seaborn is in pyproject.toml but not in environment.yml"),
        ("environment", "scipy>=1.13", "scipy is in environment.yml but not in pyproject.toml"),
    ],
)
def test_checker_fails_when_one_file_gains_a_package(side: str, entry: str, problem: str) -> None:
    pyproject = {"project": {**_PYPROJECT["project"],
                             "dependencies": list(_PYPROJECT["project"]["dependencies"])}}
    environment = {"dependencies": list(_ENVIRONMENT["dependencies"])}
    if side == "pyproject":
        pyproject["project"]["dependencies"].append(entry)
    else:
        environment["dependencies"].append(entry)
    found = differences(pyproject_packages(pyproject), environment_packages(environment))
    assert found == [problem]


def test_checker_fails_when_minimum_versions_differ() -> None:
    environment = {"dependencies": [
        "pandas>=2.1" if entry == "pandas>=2.2" else entry for entry in _ENVIRONMENT["dependencies"]
    ]}
    found = differences(pyproject_packages(_PYPROJECT), environment_packages(environment))
    assert found == ["pandas: minimum 2.2 in pyproject.toml, 2.1 in environment.yml"]
