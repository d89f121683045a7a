"""Terminal output: data on stdout, diagnostics on stderr; NO_COLOR respected."""

from __future__ import annotations

import os

from rich.console import Console
from rich.text import Text

from runlocalai_bench.errors import RlaError


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def stdout_console() -> Console:
    """Follows sys.stdout at each write, so output made during a run reaches run.log."""
    return Console(no_color=_no_color(), highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    return Console(stderr=True, no_color=_no_color(), highlight=False, soft_wrap=True)


def render_error(exc: RlaError) -> None:
    from runlocalai_bench.redact import redact

    err = stderr_console()
    err.print(Text.assemble(("error:", "bold red"), " ", redact(exc.message)))
    if exc.hint:
        err.print(Text.assemble(("hint:", "bold cyan"), " ", redact(exc.hint)))
