"""The shape of the code: stage packages whose imports go one way, no import cycle, no hidden
dependency, each cadence declared once and the notebooks written from those declarations.

docs/architecture.md draws the same picture; these tests keep it true.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from reviewkit import cadences
from reviewkit.layout.notebooks import make_notebook

SRC = REPO / "src" / "reviewkit"

#: The layers, bottom first. A module may import from its own layer and the ones below it.
#: The floor holds what every stage shares: the error hierarchy, the cadence definitions with
#: their period arithmetic, and how numbers are written.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("reviewkit", "reviewkit.errors", "reviewkit.cadences", "reviewkit.periods",
     "reviewkit.formatting", "reviewkit.redact", "reviewkit._speedups", "reviewkit._scratch"),
    ("reviewkit.inputs",),
    ("reviewkit.store",),
    ("reviewkit.evaluation",),
    ("reviewkit.narrative",),
    ("reviewkit.layout",),
    ("reviewkit.outputs",),
    ("reviewkit.run",),
    ("reviewkit.serve",),
    ("reviewkit.cli", "reviewkit.__main__"),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    local: bool  # inside a function
    type_only: bool  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            nested = prefix != "reviewkit" and module.startswith(prefix + ".")
            matches = module == prefix or nested
            if matches and len(prefix) > best:
                best, found = len(prefix), index
    if found < 0 and module.startswith("reviewkit"):
        pytest.fail(f"{module} is in no layer; add its package to LAYERS and the architecture")
    return found


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = importer.split(".")
    if MODULES[importer].name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str) -> list[Import]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: list[Import] = []

    def visit(node: ast.AST, local: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_local = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            child_type_only = type_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, alias.name, child.lineno, local, type_only))
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, child)
                for alias in child.names:
                    name = f"{base}.{alias.name}"
                    found.append(Import(module, name if name in MODULES else base, child.lineno,
                                        local, type_only))
            visit(child, child_local, child_type_only)

    visit(tree, False, False)
    return found


ALL_IMPORTS = [item for module in MODULES for item in imports_of(module)]
OURS = [item for item in ALL_IMPORTS if item.imported.split(".")[0] == "reviewkit"]


def test_every_module_belongs_to_a_stage_layer() -> None:
    assert all(layer_of(module) >= 0 for module in MODULES)


def test_imports_go_one_way_from_the_command_line_down_to_inputs() -> None:
    upward = [
        f"{item.importer} (line {item.line}) imports {item.imported}"
        for item in OURS
        if item.imported in MODULES and layer_of(item.imported) > layer_of(item.importer)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in OURS:
        if item.imported in MODULES and item.imported != item.importer:
            graph[item.importer].add(item.imported)
    # A package's __init__ importing its own submodules is how packages work, not a cycle.
    for module in MODULES:
        graph[module] = {dep for dep in graph[module] if not module.startswith(dep + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_reviewkit_module_is_imported_inside_a_function_except_for_start_up_time() -> None:
    # The command line defers the build's modules: they import papermill, nbformat and
    # matplotlib, which `actions list` or `validate` never need.
    allowed = {("reviewkit.cli.app", "reviewkit.cli.narrative"),
               ("reviewkit.cli.app", "reviewkit.run.build"),
               ("reviewkit.cli.app", "reviewkit.cli.batch"),
               # A spawned batch worker applies the start-up speed-ups before the pipeline.
               ("reviewkit.run._spawned", "reviewkit.run.workers"),
               ("reviewkit.cli.app", "reviewkit.cli.serve"),
               ("reviewkit.serve.rounds", "reviewkit.run.parallel"),
               # A build's kernel lays out what it was handed; only a notebook opened by hand
               # prepares its pack, with the store and its database library.
               ("reviewkit.run.notebook", "reviewkit.run.prepare"),
               ("reviewkit.run.notebook", "reviewkit.store.database"),
               # A swap reads a notebook only if it was saved during the build.
               ("reviewkit.run.publish", "reviewkit.narrative.notebook")}
    hidden = [f"{item.importer} (line {item.line}) imports {item.imported}" for item in OURS
              if item.local and (item.importer, item.imported) not in allowed]
    assert hidden == []


def test_a_builds_kernel_lays_out_its_pack_without_importing_the_database_library() -> None:
    """Every pack starts a kernel: what it imports, it imports once per pack."""
    import subprocess
    import sys

    from reviewkit.run.build import KERNEL_WARM_UP

    loaded = subprocess.run(
        [sys.executable, "-c", KERNEL_WARM_UP + "import sys\n"
         "print(sorted({name.split('.')[0] for name in sys.modules}))"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    assert "'reviewkit'" in loaded and "'sqlalchemy'" not in loaded


@pytest.mark.parametrize("module", ["reviewkit.run.notebook", "reviewkit.run.publish"])
def test_a_notebook_opened_by_hand_and_a_pack_swap_start_without_nbformat(module: str) -> None:
    """nbformat imports jsonschema, whose format checkers compile a grammar on import (about
    2.5 s): a kernel opening a pack by hand, the review-cycle server and every process that
    swaps a pack in would pay it for a notebook they only read when a swap needs it."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}\n"
         "print(sorted({name.split('.')[0] for name in sys.modules}))"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    assert "'reviewkit'" in loaded and "'nbformat'" not in loaded


def test_the_review_cycle_server_starts_without_compiling_jsonschemas_grammar(
        tmp_path: Path) -> None:
    """The server imports the build (nbformat, so jsonschema): it takes the command line's
    start-up speed-ups, as build and batch do."""
    import subprocess
    import sys

    missing = tmp_path / "review-cycle.yaml"
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom reviewkit.cli.app import main\n"
         f"code = main(['serve', '--params', {str(missing)!r}])\n"
         "print(code, 'nbformat' in sys.modules, sys.modules.get('rfc3987_syntax') is not None)"],
        capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert loaded == ["2", "True", "False"]


def test_every_function_local_import_says_why() -> None:
    """A comment on the import's line, or just above its group of import lines."""
    unexplained = []
    for item in ALL_IMPORTS:
        if not item.local:
            continue
        lines = MODULES[item.importer].read_text(encoding="utf-8").splitlines()
        first = item.line - 1
        while first > 0 and lines[first - 1].strip().startswith(("import ", "from ")):
            first -= 1
        group = lines[max(0, first - 1): item.line]
        if not any("#" in line for line in group):
            unexplained.append(f"{item.importer} (line {item.line}): {item.imported}")
    assert unexplained == []


def _cadence_comparisons(path: Path) -> list[str]:
    names = set(cadences.BUILT_IN)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                values = part.elts if isinstance(part, ast.Tuple | ast.List | ast.Set) else [part]
                if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_code_outside_the_cadence_definitions_branches_on_a_cadence_name() -> None:
    found = [hit for path in sorted(SRC.rglob("*.py")) if path.name != "cadences.py"
             for hit in _cadence_comparisons(path)]
    templates = SRC / "layout" / "templates"
    pattern = re.compile(r"cadence(?:\.name)?\s*[!=]=\s*['\"](weekly|monthly|quarterly)")
    found += [f"{path.relative_to(REPO)}" for path in sorted(templates.rglob("*"))
              if path.is_file() and pattern.search(path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize("name", cadences.BUILT_IN)
def test_committed_notebook_is_written_from_the_cadence_definition(name: str) -> None:
    cadence = cadences.get(name)
    committed = json.loads((REPO / "notebooks" / cadence.notebook).read_text(encoding="utf-8"))
    generated = json.loads(nbformat.writes(make_notebook(cadence)))
    assert committed == generated, "run `make notebooks` after changing reviewkit/cadences.py"


@pytest.mark.parametrize("name", cadences.BUILT_IN)
def test_notebook_cells_call_each_section_of_the_definition_in_order(name: str) -> None:
    cadence = cadences.get(name)
    notebook = make_notebook(cadence)
    calls = [re.fullmatch(r'pack\.section\("(\w+)"\)', cell.source)
             for cell in notebook.cells if cell.cell_type == "code"]
    assert [match[1] for match in calls if match] == [s.id for s in cadence.sections]
    keys = [cell.metadata["reviewkit"]["key"] for cell in notebook.cells
            if "narrative" in cell.metadata.get("tags", [])]
    assert keys == [narrative.key for narrative in cadence.narratives]


@pytest.mark.parametrize("name", cadences.BUILT_IN)
def test_every_section_of_a_cadence_has_its_template(name: str) -> None:
    templates = SRC / "layout" / "templates" / "pack"
    missing = [s.id for s in cadences.get(name).sections
               if not (templates / f"{s.id}.html.j2").is_file()]
    assert missing == []


def test_the_architecture_page_names_every_stage_package() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted({module.split(".")[1] for module in MODULES
                       if module.count(".") >= 2 or (SRC / module.split(".")[-1]).is_dir()})
    missing = [package for package in packages if f"{package}/" not in text]
    assert missing == []
