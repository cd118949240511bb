"""The floors hold: every import statement (module level or inside a function) is read from
the source, and a room that imports what it must not fails here with the file and line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "llm_load"
NETWORK_AND_LOCUST = ("gevent", "geventhttpclient", "locust", "socket", "requests", "urllib3")
# room (a package folder or a module file under llm_load/) -> imports it must not make
RULES = {
    "core": (*NETWORK_AND_LOCUST, "ssl", "selectors", "llm_load.locust", "llm_load.report"),
    "report": NETWORK_AND_LOCUST,
    "cli.py": NETWORK_AND_LOCUST,
    "compare": ("llm_load.doctor",),
}


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize(("room", "forbidden"), RULES.items())
def test_room_does_not_import(room: str, forbidden: tuple[str, ...]) -> None:
    where = ROOT / room
    files = sorted(where.rglob("*.py")) if where.is_dir() else [where]
    assert files, f"no source found for {room}"
    bad = [
        f"{path.relative_to(ROOT.parent)}:{line}: {module}"
        for path in files
        for line, module in imported(path)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]
    assert not bad, "\n".join(bad)
