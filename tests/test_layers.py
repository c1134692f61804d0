"""The layering of ``docs/architecture.md``, enforced: no package imports one above it.

Every import counts: at module level, inside functions (lazy), and under
``TYPE_CHECKING``. There is no list of exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "gemgate"

LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("wire",),
    ("documents",),
    ("projects",),
    ("policy",),
    ("config",),
    ("state",),
    ("emulator",),
    ("_heap",),
    ("serving",),
    ("upstream",),
    ("sessions",),
    ("usage",),
    ("caching",),
    ("rag",),
    ("tools",),
    ("live",),
    ("batch",),
    ("client",),
    ("__init__",),  # the public namespace: re-exports the library
    ("gateway",),
    ("console",),
    ("cli",),
    ("__main__",),
]
"""Bottom-up. A unit may import units of lower layers and itself, nothing else."""

RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """``gemgate.upstream._engine`` → ``upstream``; ``gemgate`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every gemgate module ``path`` imports, with the line (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module.split(".")
    if path.name != "__init__.py":
        package.pop()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "gemgate":  # from gemgate import client: a unit, or a name
                found += [(node.lineno, f"gemgate.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] == "gemgate"]


def unit_of_name(name: str) -> str:
    """The unit an imported name belongs to (``gemgate.AsyncGemini`` → the namespace)."""
    unit = unit_of(name)
    return unit if unit in RANK else "__init__"


MODULES = sorted(SRC.rglob("*.py"))


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(module_name(p)) for p in MODULES}
    assert units <= set(RANK), f"give these a layer: {sorted(units - set(RANK))}"


def upward(path: Path, module: str) -> list[str]:
    """The imports of ``path`` (module ``module``) that do not go down."""
    here = unit_of(module)
    return [
        f"line {line}: {name} ({unit_of_name(name)})"
        for line, name in imports(path, module)
        if unit_of_name(name) != here and RANK[unit_of_name(name)] >= RANK[here]
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_only_go_down(path: Path) -> None:
    module = module_name(path)
    assert upward(path, module) == [], f"{module} imports upward"


def test_the_check_sees_lazy_and_type_only_upward_imports(tmp_path: Path) -> None:
    """A negative control: the engine's own source plus one upward import is refused."""
    engine = SRC / "upstream" / "_engine.py"
    probe = tmp_path / "_engine.py"
    lazy = "\n\ndef f() -> None:\n    from ..client import async_client\n"
    typed = "\nif TYPE_CHECKING:\n    from gemgate.live._pool import LivePool\n"
    probe.write_text(engine.read_text() + lazy + typed)
    found = upward(probe, "gemgate.upstream._engine")
    assert [f.split(": ", 1)[1] for f in found] == [
        "gemgate.client (client)",
        "gemgate.live._pool (live)",
    ]
    assert upward(engine, "gemgate.upstream._engine") == []
