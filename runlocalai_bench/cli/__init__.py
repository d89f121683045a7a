"""The `rla` command. Each command lives in its own file and stays thin: parse, build the
config, call one library function, render. Errors a user can cause are rendered here, once."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from runlocalai_bench.errors import RlaError
from runlocalai_bench.ui import render_error


class _Rla(TyperGroup):
    """`rla bench speed …` is the command in bench_speed.py, not `rla bench` with slug speed."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args[:2] == ["bench", "speed"] and "bench-speed" in self.commands:
            return "bench speed", self.commands["bench-speed"], args[2:]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_Rla,
    name="rla",
    help="Benchmark local LLMs reproducibly and publish results the RunLocalAI leaderboard trusts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

# Command name → its module in runlocalai_bench/cli/: the module exposes a function named like
# the command, or `app` for a group of subcommands. Heavy imports stay inside the functions.
# No command module imports another; what they share is in _common.py and _publishing.py.
_COMMANDS = ("bench", "rig", "selftest", "schema", "publish", "submit", "verify", "rescore",
             "reproduce", "ladder", "duplicates", "report", "merge")
_GROUPS = ("runs", "keys")


def _register() -> None:
    if app.registered_commands:  # main() already ran in this process (an embedding, a test)
        return
    for name in _COMMANDS:
        module = importlib.import_module(f"runlocalai_bench.cli.{name}")
        app.command(name)(getattr(module, name))
    speed = importlib.import_module("runlocalai_bench.cli.bench_speed")
    app.command("bench-speed", hidden=True,
                context_settings=speed.SETTINGS)(speed.bench_speed)
    for name in _GROUPS:
        module = importlib.import_module(f"runlocalai_bench.cli.{name}")
        app.add_typer(module.app, name=name)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print rla's version and exit."),
) -> None:
    if ctx.invoked_subcommand is None and not version:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    if version:
        from runlocalai_bench import __version__

        typer.echo(f"rla {__version__}")
        raise typer.Exit()


def main(argv: list[str] | None = None) -> None:
    """Entry point: typer handles usage errors itself; RlaError becomes `error:` / `hint:`."""
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except RlaError as exc:
        render_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render_error(RlaError("interrupted", hint="continue the run with --resume"))
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("RLA_DEBUG"):
            raise
        render_error(RlaError(f"internal error: {type(exc).__name__}: {exc}",
                              hint="rerun with RLA_DEBUG=1 for a traceback and report it"))
        sys.exit(70)
