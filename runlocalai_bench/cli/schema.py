"""`rla schema [NAME]`: print one of rla's versioned JSON Schemas."""

from __future__ import annotations

import typer

from runlocalai_bench import schemas, ui


def schema(
    name: str = typer.Argument(schemas.RECORD,
                               help=f"Schema to print: {', '.join(schemas.schema_names())}."),
) -> None:
    """Print the JSON Schema of record.json (default) or of the leaderboard submission."""
    ui.stdout_console().print(schemas.schema_text(name), end="", markup=False, highlight=False,
                              soft_wrap=True)
