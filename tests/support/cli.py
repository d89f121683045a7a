"""`rla` as a test runs it, and the check that a failure is a user error.

By default `rla(...)` runs in this process, through the entry point a user's `rla` runs
(`runlocalai_bench.cli.main`, under typer's CliRunner isolation): the same commands, the same
`error:` / `hint:` rendering and exit codes, without a Python start-up per call. `process=True`
runs `python -m runlocalai_bench` instead, where a real process is the point: a run whose
run.log tees file descriptors 1 and 2 (its live output reaches the descriptors, not
sys.stdout), a kill or a signal, the sandbox, the installed entry point.

Either way the environment is this test's (the autouse fixture's HOME, data dirs, no tokens)
with `env` laid over it, and stdin is `stdin` (empty by default, so never a TTY).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from typer.testing import CliRunner

from runlocalai_bench import redact
from runlocalai_bench.cli import main
from runlocalai_bench.results import rundir


class Ran(NamedTuple):
    """What one `rla` invocation left: its exit status and what it wrote to each stream
    (`code, out, err = rla(...)` unpacks it)."""

    returncode: int
    stdout: str
    stderr: str


def rla(*args: str, env: Mapping[str, str | None] | None = None, stdin: str = "",
        cwd: Path | None = None, process: bool = False, timeout: float = 300) -> Ran:
    """`rla ARGS`; in this process unless `process` (`timeout` applies to a process only).
    `env` is laid over this test's environment; a None value unsets that variable."""
    if process:
        environ = {**os.environ, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "runlocalai_bench", *args],
                              capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env={k: v for k, v in environ.items() if v is not None},
                              input=stdin)
        return Ran(proc.returncode, proc.stdout, proc.stderr)
    where = contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()
    saved_argv = sys.argv
    with where, CliRunner().isolation(input=stdin, env=env) as (out, err, _):
        sys.argv = ["rla", *args]  # what a run records as its command
        redact.refresh()  # a fresh process reads the secrets to redact from its environment
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            sys.argv = saved_argv
            redact.refresh()
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())


def assert_user_error(ran: Ran, *needles: str, first: bool = True) -> None:
    """A failure a user caused: non-zero exit, one `error:` line on stderr (its first line,
    unless `first` is false for a command that shows a summary before refusing) with a `hint:`
    line after it, no traceback anywhere, and each of `needles` in stderr."""
    assert ran.returncode != 0, ran.stdout + ran.stderr
    lines = ran.stderr.strip().splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1, ran.stderr
    assert errors[0] == 0 or not first, ran.stderr
    assert any(line.startswith("hint: ") for line in lines[errors[0] + 1:]), ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    for needle in needles:
        assert needle in ran.stderr, ran.stderr


def only_run(out: Path) -> rundir.RunDir:
    """The one run directory a command made in `out`."""
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return rundir.RunDir(runs[0])
