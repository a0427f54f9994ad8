"""The rules the layout keeps (DESIGN.md): arrows that must never exist."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports_of(folder: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[path] = names
    return found


def offenders(folder: str, banned: tuple[str, ...]) -> list[str]:
    return [
        f"{p.relative_to(ROOT)}: {name}"
        for p, names in imports_of(folder).items()
        for name in names
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]


def test_stdlib_signal_is_not_shadowed_from_the_repository_root():
    code = (
        "import signal, asyncio; signal.SIGTERM; asyncio.run(asyncio.sleep(0)); "
        "print(getattr(signal, '__file__', 'builtin'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)  # noqa: S603 — a fixed argv of our own, no shell
    assert out.returncode == 0, out.stderr
    assert "signal/" not in out.stdout
    assert not (ROOT / "signal" / "__init__.py").exists()


async def test_pytest_from_the_root_runs_an_event_loop():
    await asyncio.sleep(0)
    import signal

    assert signal.SIGTERM


def test_vagus_signal_is_the_signal_core():
    import vagus.signal

    assert Path(vagus.signal.__file__).parent == ROOT / "signal" / "src"


def test_signal_core_is_pure():
    banned = (
        "asyncio",
        "bleak",
        "paho",
        "sqlite3",
        "time",
        "datetime",
        "logging",
        "vagus.edge",
        "vagus.sync",
        "vagus.sim",
        "pandas",
        "matplotlib",
        "neurokit2",
        "scipy",
    )
    # scipy and neurokit2 may be imported lazily inside functions, never at module level.
    module_level = []
    for path in (ROOT / "signal").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                module_level += [
                    f"{path.name}: {n}" for n in names if any(n == b or n.startswith(b + ".") for b in banned)
                ]
    assert module_level == []
    assert offenders("signal", banned[:8]) == []


def test_simulator_never_imports_the_edge():
    assert offenders("firmware-sim", ("vagus.edge", "bleak")) == []


def test_sync_never_imports_edge_or_signal():
    assert offenders("sync", ("vagus.edge", "vagus.signal", "numpy", "bleak")) == []


def test_bleak_is_imported_in_at_most_one_module():
    importers = [
        p
        for folder in ("vagus", "edge", "signal", "sync", "firmware-sim")
        for p, names in imports_of(folder).items()
        if any(n.split(".")[0] == "bleak" for n in names)
    ]
    assert len(importers) <= 1, importers


@pytest.mark.parametrize("module", ["vagus.cli", "vagus.edge", "vagus.sim"])
def test_agent_path_stays_light(module):
    heavy = ("pandas", "neurokit2", "matplotlib", "scipy")
    code = f"import sys, {module}; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)  # noqa: S603 — a fixed argv of our own, no shell
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_building_and_running_a_simulated_strap_world_loads_no_heavy_library():
    # `vagus run --sim` builds a world and pulls its devices' first notifications: none of that may
    # import scipy & co. (issue 6, "Footprint": the agent with three straps stays under 80 MB).
    heavy = ("pandas", "neurokit2", "matplotlib", "scipy")
    code = (
        "import sys\n"
        "from vagus.sim import build_world, load_builtin, render\n"
        "world = build_world(load_builtin('resting'), people=3)\n"
        "for setup in world.devices_setup:\n"
        "    notes = render(setup)\n"
        "    assert [next(notes) for _ in range(5)]\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)  # noqa: S603 — a fixed argv of our own, no shell
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_command_line_parser_loads_no_numpy_and_no_agent():
    # `vagus --help` and every verb's argument errors answer at once: each `<verb>_cli` module adds its
    # parser with argparse alone and imports what the verb needs only when it runs.
    code = (
        "import sys, vagus.cli\n"
        "vagus.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy' or m.startswith('vagus.edge')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)  # noqa: S603 — a fixed argv of our own, no shell
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
