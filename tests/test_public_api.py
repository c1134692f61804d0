"""``gemgate`` is the one public namespace: complete, sorted, typed, and cheap to import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import gemgate

INIT = Path(gemgate.__file__)
SUBJECTS = [
    "gemgate.caching",
    "gemgate.errors",
    "gemgate.live",
    "gemgate.sessions",
    "gemgate.tools",
]
HELPERS = {"normalize_ttl", "run_tool", "status_error", "trim_history"}
"""Functions that stay in their sub-package (they serve its own modules and tests)."""


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert gemgate.__all__ == sorted(gemgate.__all__)
    assert set(gemgate.__all__) == {*gemgate._HOME, "__version__"}
    for name in gemgate.__all__:
        value = getattr(gemgate, name)
        if name != "__version__":
            home = importlib.import_module(gemgate._HOME[name])
            assert value is getattr(home, name), name


def test_every_public_name_of_a_subject_package_is_exported() -> None:
    for module in SUBJECTS:
        names = set(importlib.import_module(module).__all__) - HELPERS
        assert names <= set(gemgate.__all__), f"{module}: {sorted(names - set(gemgate.__all__))}"


def test_type_checkers_see_the_same_names() -> None:
    tree = ast.parse(INIT.read_text())
    typed: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                typed[imp.module] = {a.name for a in imp.names}
    assert typed == {module: set(names) for module, names in gemgate._EXPORTS.items()}


def test_unknown_names_are_attribute_errors() -> None:
    try:
        gemgate.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_gemgate_loads_nothing_else() -> None:
    code = "import sys, gemgate; print(sorted(m for m in sys.modules if m.startswith('gemgate.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


PUBLIC_MODULES = {"durations.py", "errors.py", "jsonarray.py", "sse.py", "types.py"}
"""``gemgate.wire``'s documented modules; every other module in a sub-package is private."""


def test_modules_inside_sub_packages_are_private() -> None:
    root = INIT.parent
    public = [
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if path.parent != root
        and path.name != "__init__.py"
        and not path.name.startswith("_")
        and not (path.parent.name == "wire" and path.name in PUBLIC_MODULES)
    ]
    assert public == [], f"name these _module.py or export them: {public}"
