"""The files llm-load ships: its locustfiles and example scenarios (with their data files).

In a wheel they sit inside the package (`llm_load/locustfiles`, `llm_load/scenarios`: the
wheel build force-includes the repository's `locustfiles/` and `scenarios/` there); in a
checkout or an editable install they are found at the repository root. A scenario argument
names a file, or, when no such file exists, a bundled scenario (`smoke` or `smoke.yaml`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from llm_load.core.scenario.schema import Scenario

__all__ = [
    "bundled_scenarios",
    "copy_scenario",
    "data_files",
    "locustfile_names",
    "locustfile_path",
    "resolve_scenario",
    "shipped_dir",
]

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """`locustfiles` or `scenarios`: inside the installed package, else the checkout's."""
    for root in (_PACKAGE, _PACKAGE.parent):
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"{name}/ not found in {_PACKAGE} or next to it")


def locustfile_names() -> list[str]:
    """The shipped locustfiles by name (`chat`, `scenario`, `tools`)."""
    return sorted(p.stem for p in shipped_dir("locustfiles").glob("*.py"))


def locustfile_path(name: str) -> Path:
    """A shipped locustfile by name (`chat` or `chat.py`)."""
    path = shipped_dir("locustfiles") / f"{name.removesuffix('.py')}.py"
    if not path.is_file():
        names = ", ".join(locustfile_names())
        raise FileNotFoundError(f"no shipped locustfile {name!r} (shipped: {names})")
    return path


def bundled_scenarios() -> dict[str, Path]:
    """The example scenarios by name (file stem), sorted."""
    return {p.stem: p for p in sorted(shipped_dir("scenarios").glob("*.yaml"))}


def resolve_scenario(arg: str) -> str:
    """`arg` when it is a file (or a path that names none: the error says it cannot be read);
    else the bundled scenario of that name, with or without `.yaml`."""
    if Path(arg).exists() or "/" in arg or "\\" in arg:
        return arg
    bundled = bundled_scenarios().get(arg.removesuffix(".yaml").removesuffix(".yml"))
    return str(bundled) if bundled is not None else arg


def data_files(scenario: Scenario) -> list[str]:
    """The data files a scenario names relative to itself (prompt file, dataset, trace, tool
    cases)."""
    prompts = scenario.prompts
    files = [prompts.file if prompts else None]
    files.append(prompts.dataset.file if prompts and prompts.dataset else None)
    files.append(scenario.trace.file if scenario.trace else None)
    files.append(scenario.tools.cases if scenario.tools else None)
    return [f for f in files if f and not Path(f).is_absolute()]


def copy_scenario(source: Path, scenario: Scenario, dest: Path, force: bool) -> list[Path]:
    """Copy a scenario file and its data files into `dest` (same relative layout, so its
    relative paths still work); refuses to overwrite unless `force`. Returns what it wrote."""
    pairs = [(source, dest / source.name)]
    pairs += [(source.parent / f, dest / f) for f in data_files(scenario)]
    existing = [str(target) for _, target in pairs if target.exists()]
    if existing and not force:
        raise FileExistsError(f"not overwriting {', '.join(existing)} (--force to replace)")
    for src, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return [target for _, target in pairs]
