"""The layers of docs/architecture.md hold: no module imports one of a higher layer, and no import cycle exists.

Imports are read from the source (lazy imports inside functions included), so a shortcut taken anywhere fails
here rather than in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# Lowest first. A module belongs to the layer of the longest prefix naming it; the same list is in
# docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("asahi", "asahi.errors", "asahi.domain", "asahi.config", "asahi.settings"),
    ("asahi.observability", "asahi.store", "asahi.redis_client"),
    ("asahi.governance", "asahi.notify", "asahi.embeddings", "asahi.cache.vectors", "asahi.providers",
     "asahi.streaming"),
    ("asahi.routing",),
    ("asahi.cache", "asahi.ledger.pricing", "asahi.ledger.bill"),
    ("asahi.call",),
    ("asahi.ledger",),
    ("asahi.verification",),
    ("asahi.cascade",),
    ("asahi.pipeline", "asahi.paths"),
    ("asahi.components",),
    ("asahi.api", "asahi.app", "asahi.server", "asahi.cli", "asahi.demo"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py") if "migrations" not in p.parts}


def layer(module: str) -> int:
    best, found = -1, -1
    for number, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), number
    assert found >= 0, f"{module} is in no layer of docs/architecture.md"
    return found


def imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports(module) for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_imports_upward(module: str) -> None:
    upward = sorted(target for target in GRAPH[module] if layer(target) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports {upward} from higher layers"


def test_no_import_cycles() -> None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycle = [*visiting[visiting.index(module):], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        visiting.append(module)
        for target in sorted(GRAPH[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)
