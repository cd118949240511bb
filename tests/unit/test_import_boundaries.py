"""The floors of the house, checked statically: every `import` statement of a package (read
with `ast`, so nothing is executed) against what that package may not import.

`core/` is pure (no Locust, gevent, HTTP clients or sockets), as are the renderers in
`report/` and `cli.py`; the Locust layer builds the run's summary but never imports the
renderers (`report/`): outputs reach a run as a sink, and only the plugin's `install()`
(`locust/__init__.py`, where the default sink is chosen) names `llm_load.outputs`;
`compare/` shares endpoint helpers with `doctor/` through core, never by importing it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "llm_load"
NETWORK = ("gevent", "geventhttpclient", "locust", "socket", "ssl", "selectors", "requests")
NETWORK += ("urllib3", "httpx", "aiohttp", "asyncio", "zmq")
RULES = {
    "core": (*NETWORK, "llm_load.locust", "llm_load.report", "llm_load.outputs"),
    "report": NETWORK,
    "cli.py": NETWORK,
    "locust": ("llm_load.report", "llm_load.outputs"),
    "compare": ("llm_load.doctor",),
}
ALLOWED = {("locust/__init__.py", "llm_load.outputs")}  # install(): the default output sink


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(parts[: len(parts) - node.level]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found += [(node.lineno, module)]
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def files(room: str) -> list[Path]:
    target = PACKAGE / room
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def forbidden(module: str, banned: tuple[str, ...]) -> bool:
    return any(module == b or module.startswith(b + ".") for b in banned)


def allowed(path: Path, module: str) -> bool:
    where = path.relative_to(PACKAGE).as_posix()
    return any(where == w and forbidden(module, (m,)) for w, m in ALLOWED)


@pytest.mark.parametrize("room", sorted(RULES))
def test_no_room_imports_what_its_floor_forbids(room):
    assert files(room), f"llm_load/{room} not found"
    broken = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for path in files(room)
        for line, module in imports(path)
        if forbidden(module, RULES[room]) and not allowed(path, module)
    ]
    assert broken == [], "\n".join(broken)


def test_the_scan_sees_every_kind_of_import(tmp_path, monkeypatch):
    """A scan that missed lazy, aliased or relative imports would pass for the wrong reason."""
    room = tmp_path / "llm_load" / "locust"
    room.mkdir(parents=True)
    (room / "x.py").write_text(
        "import gevent.event as ev\n"
        "def f():\n    from ..report import html\n"
        "from llm_load import report\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "llm_load")
    found = [m for _, m in imports(room / "x.py")]
    assert forbidden(found[0], NETWORK)
    assert sum(forbidden(m, RULES["locust"]) for m in found) == 3, found
