"""The layout keeps its shape: layers, thin routers, no cycles, nothing wired by importing.

The rules (README "Layout"):
- ``app/core`` is shared infrastructure: it imports nothing of ``app`` outside itself.
- A resource package's ``models.py`` is the table layer: it imports only ``app.core`` and
  other ``models`` modules, so every package may read any table.
- No router module (``router.py``, ``*_router.py``) imports another router module; only
  ``app/api.py`` gathers them.
- Routers hold no SQL: the queries are in each package's ``repository.py``.
- No import cycle between modules, and none between packages once the table layer is
  set apart.
- No module fills a registry of another module when it is imported: whatever the app
  needs is imported where it is used, or wired by ``create_app`` (``app.state``), which the
  CLI runs too.
"""

from __future__ import annotations

import ast
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.helpers import plain_dsn
from tests.platform.serving import BERDAYA, child_env

APP = Path(__file__).resolve().parents[2] / "app"


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(APP.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, *, top_level_only: bool) -> Iterator[str]:
    """The ``app`` modules ``module`` imports (a package import counts as its ``__init__``;
    ``from app.x import y`` as ``app.x.y`` when that is a module)."""
    tree = ast.parse(MODULES[module].read_text())

    def walk(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            yield node
            if not top_level_only:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        yield from walk([child])
            elif isinstance(node, ast.If | ast.Try):
                yield from walk(node.body)

    for node in walk(tree.body):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in MODULES and name != module:
                yield name


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    return {m: set(_imports(m, top_level_only=top_level_only)) for m in MODULES}


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def _is_router(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "router" or last.endswith("_router")


def _is_table_layer(module: str) -> bool:
    return module.endswith(".models") or module.startswith("app.core")


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` if there is any."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_core_depends_on_nothing_above_it() -> None:
    offending = {
        module: sorted(i for i in imports if not i.startswith("app.core"))
        for module, imports in _graph(top_level_only=False).items()
        if module.startswith("app.core")
    }
    assert {m: i for m, i in offending.items() if i} == {}


def test_tables_depend_only_on_core_and_tables() -> None:
    offending = {
        module: sorted(i for i in imports if not _is_table_layer(i))
        for module, imports in _graph(top_level_only=False).items()
        if module.endswith(".models")
    }
    assert {m: i for m, i in offending.items() if i} == {}


def test_no_router_imports_a_router() -> None:
    offending = {
        module: sorted(i for i in imports if _is_router(i))
        for module, imports in _graph(top_level_only=False).items()
        if module not in ("app.api", "app.main")
    }
    assert {m: i for m, i in offending.items() if i} == {}


def test_routers_hold_no_sql() -> None:
    calls = ("select(", "session.execute(", "session.scalar(", "session.scalars(", "insert(")
    offending = {
        module: [call for call in calls if call in MODULES[module].read_text()]
        for module in MODULES
        if _is_router(module)
    }
    assert {m: c for m, c in offending.items() if c} == {}


def test_no_module_import_cycle() -> None:
    assert _cycle(_graph(top_level_only=True)) is None


def test_no_package_cycle_above_the_table_layer() -> None:
    packages: dict[str, set[str]] = {}
    for module, imports in _graph(top_level_only=False).items():
        if _is_table_layer(module):
            continue
        source = _package(module)
        packages.setdefault(source, set()).update(
            _package(i) for i in imports if not _is_table_layer(i) and _package(i) != source
        )
    assert _cycle(packages) is None


def _registrations(module: str) -> list[str]:
    """Module-level statements that change an object imported from another app module
    (configuring a library, e.g. SQLModel's naming convention, is not wiring)."""
    tree = ast.parse(MODULES[module].read_text())
    imported = {
        alias.asname or alias.name.split(".")[0]
        for node in tree.body
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app"))
        or (isinstance(node, ast.Import) and node.names[0].name.startswith("app"))
        for alias in node.names
    }

    def root(node: ast.AST) -> str | None:
        while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
            node = node.func if isinstance(node, ast.Call) else node.value
        return node.id if isinstance(node, ast.Name) else None

    found = []
    for node in tree.body:
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            targets = [t for t in targets if isinstance(t, ast.Attribute | ast.Subscript)]
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr in (
                "append",
                "extend",
                "update",
                "add",
                "setdefault",
                "insert",
            ):
                targets = [func.value]
            elif isinstance(func, ast.Name) and func.id.startswith("register"):
                targets = [func]
        for target in targets:
            name = root(target)
            if name in imported:
                found.append(f"{module}:{node.lineno}")
    return found


def test_nothing_is_wired_by_importing_a_module() -> None:
    found = [entry for module in MODULES for entry in _registrations(module)]
    assert found == []


def test_the_checks_see_a_violation() -> None:
    """The checks above are not vacuous: they catch what they look for."""
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _is_router("app.programs.activities_router")
    assert "app.core.db" in _graph(top_level_only=True)["app.main"]
    assert any(i.startswith("app.auth") for i in _graph(top_level_only=False)["app.main"])


@pytest.fixture
def deleted_partner(database_url: str) -> Iterator[uuid.UUID]:
    import asyncio

    async def make() -> uuid.UUID:
        conn = await asyncpg.connect(**plain_dsn(database_url))
        try:
            partner_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO partners (id, name, kind, created_at, updated_at, version, "
                "deleted_at) VALUES ($1, 'Mitra Terhapus', 'ngo', now(), now(), 1, now())",
                partner_id,
            )
            return partner_id
        finally:
            await conn.close()

    yield asyncio.run(make())


def test_cli_applies_the_same_rules_as_the_app(
    database_url: str, tmp_path: Path, deleted_partner: Any
) -> None:
    """``berdaya create-user`` refuses a deleted partner organisation, as the API does
    (it once depended on a check registered by importing the partners router)."""
    result = subprocess.run(
        [
            str(BERDAYA),
            "create-user",
            "--email",
            "mitra@berdaya.id",
            "--role",
            "partner",
            "--organization-id",
            str(deleted_partner),
            "--password-stdin",
        ],
        input="a-long-enough-password\n",
        env=child_env(tmp_path / "data", database_url),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "partner organisation not found" in result.stderr
    assert "Traceback" not in result.stderr
