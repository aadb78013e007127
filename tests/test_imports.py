"""The packages depend on each other one way: read from the sources with `ast`, so a lazy import counts too."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"medmix": "medmix", "corpus": "medmix.corpus", "tokenize": "medmix.tokenize", "train": "medmix.train"}
ENTRY_POINTS = {"medmix.cli", "medmix.__main__"}  # the command line, which may import everything


def module_imports(run_time_only: bool = False) -> dict[str, set[str]]:
    """Every medmix module and the medmix modules it imports, anywhere in its body; `run_time_only` leaves
    out the imports under `if TYPE_CHECKING:`, which only annotations use."""
    graph = {}
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            name = ".".join([package, *path.relative_to(REPO / folder).with_suffix("").parts]).removesuffix(".__init__")
            imported, tree = set(), ast.parse(path.read_text())
            if run_time_only:
                tree.body = [node for node in tree.body if not (isinstance(node, ast.If) and
                                                                getattr(node.test, "id", "") == "TYPE_CHECKING")]
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module)
            graph[name] = {module for module in imported if module.startswith("medmix.")}
    return graph


def package_of(module: str) -> str:
    """medmix.corpus, medmix.tokenize, medmix.train; the command line; or the foundations in medmix/."""
    if module in ENTRY_POINTS:
        return "medmix.cli"
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[1] in ("corpus", "tokenize", "train") else "medmix"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first search meets (each one once, as the path that closes it)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_package_imports_another_in_a_cycle():
    packages: dict[str, set[str]] = {}
    for module, imported in module_imports().items():
        packages.setdefault(package_of(module), set()).update(
            package_of(target) for target in imported if package_of(target) != package_of(module))
    assert cycles(packages) == []
    assert packages["medmix.tokenize"] == {"medmix"}  # tokenize builds on io, rundir and schema alone
    assert "medmix.train" not in packages["medmix.corpus"] and "medmix.cli" not in packages["medmix"]


def test_no_module_imports_another_in_a_cycle_when_it_runs():
    graph = module_imports(run_time_only=True)
    graph = {module: {target for target in imported if target in graph} for module, imported in graph.items()}
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
