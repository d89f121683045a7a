"""The commit a run records for the rla it ran: a checkout's HEAD, with -dirty while tracked
files hold uncommitted changes (the trust gate refuses such a run), and none outside a git
checkout (an installed release)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "runlocalai_bench"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def recorded_commit(root: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PYTHONPATH"] = str(root)
    code = "from runlocalai_bench.results.record import rla_git_commit; print(rla_git_commit())"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=root, check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


def git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    return subprocess.run(["git", "-C", str(root), *args], env=env, check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


def test_a_checkout_records_its_commit_and_dirty_while_changes_are_uncommitted(tmp_path):
    root = tmp_path / "rla"
    shutil.copytree(PACKAGE, root / "runlocalai_bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "rla")
    head = git(root, "rev-parse", "HEAD")
    assert recorded_commit(root) == head

    init = root / "runlocalai_bench" / "__init__.py"
    init.write_text(init.read_text() + "\n# a local change\n")
    assert recorded_commit(root) == head + "-dirty"

    git(root, "commit", "-q", "-am", "the change")
    assert recorded_commit(root) == git(root, "rev-parse", "HEAD")


def test_outside_a_checkout_no_commit_is_recorded(tmp_path):
    root = tmp_path / "site"
    shutil.copytree(PACKAGE, root / "runlocalai_bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert recorded_commit(root) == "None"
