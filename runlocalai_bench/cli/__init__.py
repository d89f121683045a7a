"""The `rla` command. Each command lives in its own file and stays thin: parse, build the
config, call one library function, render. Errors a user can cause are rendered here, once."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from runlocalai_bench.errors import RlaError
from runlocalai_bench.ui import render_error

app = typer.Typer(
    name="rla",
    help="Benchmark local LLMs reproducibly and publish results the RunLocalAI leaderboard trusts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

# (module, attribute, command name): commands register lazily so `rla --help` stays fast.
_COMMANDS = [
    ("bench", "bench", "bench"),
    ("rig", "rig", "rig"),
    ("selftest", "selftest", "selftest"),
    ("schema", "schema", "schema"),
    ("publish", "publish", "publish"),
    ("submit", "submit", "submit"),
    ("verify", "verify", "verify"),
    ("rescore", "rescore", "rescore"),
    ("reproduce", "reproduce", "reproduce"),
]
_GROUPS = [
    ("runs", "app", "runs"),
    ("keys", "app", "keys"),
]


def _register() -> None:
    for module, attr, name in _COMMANDS:
        try:
            mod = importlib.import_module(f"runlocalai_bench.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"runlocalai_bench.cli.{module}":
                raise
            continue
        app.command(name)(getattr(mod, attr))
    for module, attr, name in _GROUPS:
        try:
            mod = importlib.import_module(f"runlocalai_bench.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"runlocalai_bench.cli.{module}":
                raise
            continue
        app.add_typer(getattr(mod, attr), name=name)


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
