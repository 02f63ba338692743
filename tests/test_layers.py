"""The layers import one way: index <- rag <- {ui, eval}; ui and eval never import each other.

Every import statement of every module counts, also one inside a function (a lazy
import is still a dependency). The one exception is the `rag` command's entry point,
`ui.cli`, which sits above both and lists `eval.command`. docs/architecture.md draws it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from index.paths import PROJECT_ROOT

LAYERS = ("index", "rag", "ui", "eval")
# What each layer may import from the project (itself included).
ALLOWED = {
    "index": {"index"},
    "rag": {"index", "rag"},
    "ui": {"index", "rag", "ui"},
    "eval": {"index", "rag", "eval"},
}
ENTRY_POINT = "ui.cli"  # the `rag` command: may also import eval.command, and nothing else of eval
ENTRY_POINT_EXTRA = {"eval.command", "eval"}


def project_modules(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Module name -> source, for every .py file of the four layers."""
    modules = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path.read_text(encoding="utf-8")
    return modules


def imported_names(source: str, module: str) -> Iterator[str]:
    """The absolute names of everything `source` imports (relative imports resolved against `module`)."""
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level])  # (the project writes no relative imports)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def layer_violations(modules: Mapping[str, str]) -> list[str]:
    """`importer -> imported` for every import against the layers."""
    problems = []
    for module, source in modules.items():
        layer = module.split(".")[0]
        for name in imported_names(source, module):
            target = name.split(".")[0]
            if target not in LAYERS or target in ALLOWED[layer]:
                continue
            if module == ENTRY_POINT and name in ENTRY_POINT_EXTRA:
                continue
            problems.append(f"{module} -> {name}")
    return sorted(set(problems))


def import_cycles(modules: Mapping[str, str]) -> list[list[str]]:
    """Cycles among the project's own modules (a module importing one that imports it back)."""
    graph: dict[str, set[str]] = {}
    for module, source in modules.items():
        targets = set()
        for name in imported_names(source, module):
            # `from a.b import c` names the module a.b (or a.b.c when c is a module).
            for candidate in (name, name.rsplit(".", 1)[0]):
                if candidate in modules and candidate != module:
                    targets.add(candidate)
                    break
        # A package's __init__ that only re-exports is not a cycle with its own modules.
        graph[module] = {t for t in targets if not module.startswith(t + ".") and not t.startswith(module + ".")}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_the_project_imports_only_along_the_layers() -> None:
    modules = project_modules()
    assert len(modules) > 40  # the walk found the code
    assert layer_violations(modules) == []


def test_the_project_has_no_import_cycles() -> None:
    assert import_cycles(project_modules()) == []


def test_a_back_edge_is_caught() -> None:
    """The check itself can fail: synthetic modules with an arrow against each rule."""
    synthetic = {
        "index.fake": "from rag.engine import Engine\n",
        "rag.fake": "def lazy():\n    import ui.render\n",
        "ui.fake": "from eval import runner\n",
        "eval.fake": "from ui.terminal import format_answer\n",
        "ui.cli": "from eval import command\nfrom eval.runner import run_set\n",
        "ui.fine": "from rag.engine import Engine\nimport numpy\n",
    }
    assert layer_violations(synthetic) == [
        "eval.fake -> ui.terminal",
        "eval.fake -> ui.terminal.format_answer",
        "index.fake -> rag.engine",
        "index.fake -> rag.engine.Engine",
        "rag.fake -> ui.render",
        "ui.cli -> eval.runner",
        "ui.cli -> eval.runner.run_set",
        "ui.fake -> eval",
        "ui.fake -> eval.runner",
    ]


def test_a_cycle_is_caught() -> None:
    synthetic = {
        "eval.benchmarks.a": "from eval.benchmarks.b import X\n",
        "eval.benchmarks.b": "def f():\n    from eval.benchmarks.a import Y\n",
        "eval.benchmarks.c": "from eval.benchmarks import a\n",
    }
    assert import_cycles(synthetic) == [["eval.benchmarks.a", "eval.benchmarks.b", "eval.benchmarks.a"]]
