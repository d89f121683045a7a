"""The CLI's shape: one file per command, none importing another (what they share lives in the
underscore modules), none over ~150 lines, and nothing below the CLI importing it."""

from __future__ import annotations

import ast
from pathlib import Path

import runlocalai_bench
from runlocalai_bench import cli

PACKAGE = Path(runlocalai_bench.__file__).parent
CLI = Path(cli.__file__).parent
SHARED = {"_common", "_publishing", "render"}  # helpers, not commands


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    return names


def test_no_command_file_imports_another_and_each_is_short() -> None:
    commands = [p for p in CLI.glob("*.py") if p.stem not in SHARED and p.stem != "__init__"]
    assert len(commands) >= 12
    for path in commands:
        others = {m for m in imported_modules(path) if m.startswith("runlocalai_bench.cli.")
                  and m.rpartition(".")[2] not in SHARED}
        assert not others, f"{path.name} imports {others}"
    for path in CLI.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 160, path.name


def test_nothing_below_the_cli_imports_it() -> None:
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("cli/") or relative == "__main__.py":  # the entry point
            continue
        assert not {m for m in imported_modules(path) if m == "runlocalai_bench.cli"
                    or m.startswith("runlocalai_bench.cli.")}, relative
