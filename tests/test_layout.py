"""The package layout shows the architecture: imports flow one way. Read with `ast` (nothing is
imported), counting every import: inside functions (a lazy import does not excuse a cycle) and under
`if TYPE_CHECKING:` (an annotation that needs a module above is a dependency on it too). The
command-line package sits on top (nothing imports it), and test fixtures stay out of the product."""

import ast
from pathlib import Path

import tacotron

ROOT = Path(tacotron.__file__).parent
# Packages that must not import training/ (inference runs without it; the rest sit below it).
BELOW_TRAINING = ("inference", "model", "data", "audio", "text", "runs")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The tacotron modules a file imports (`from tacotron.x import y` is tacotron.x.y when that
    is a module, else tacotron.x)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("tacotron"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.startswith("tacotron"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in ROOT.rglob("*.py")}
    modules = set(paths)
    return {name: {m for m in imported_modules(path, modules) if m in modules and m != name}
            for name, path in paths.items()}


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else module


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules():
    assert find_cycle(import_graph()) is None


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        source = package_of(module)
        packages.setdefault(source, set()).update(
            package_of(t) for t in targets if package_of(t) != source)
    assert find_cycle(packages) is None


def test_nothing_below_training_imports_it():
    offending = sorted((module, target) for module, targets in import_graph().items()
                       for target in targets
                       if package_of(module) in BELOW_TRAINING and package_of(target) == "training")
    assert offending == []


def top_level_imports(path: Path) -> set[str]:
    """The first name of every module a file imports, `tacotron` and third parties alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_nothing_imports_the_command_line():
    offending = sorted((module, target) for module, targets in import_graph().items()
                       for target in targets
                       if package_of(target) == "cli" and package_of(module) != "cli")
    assert offending == []


def test_test_doubles_and_fixtures_are_not_installed():
    """Test doubles and fixtures (tests/bot_server.py, tests/support: a synthetic book, an untrained
    voice) live with the tests: no product file is one, and none imports one."""
    tests = Path(__file__).parent
    fixture_modules = {"support", "conftest", "tests",
                       *(path.stem for path in tests.glob("*.py"))}
    assert not any(ROOT.rglob("bot_server.py"))
    assert not [path for path in ROOT.rglob("*.py")
                if path.name.startswith("test_") or path.name == "conftest.py"]
    offending = sorted((module_name(path), name) for path in ROOT.rglob("*.py")
                       for name in top_level_imports(path) & fixture_modules)
    assert offending == []
