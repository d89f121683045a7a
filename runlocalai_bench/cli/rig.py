"""`rla rig [--endpoint URL] [--json]`: the machine a run would happen on, and optionally the
inference server behind an endpoint."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from runlocalai_bench import ui
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.redact import redact, redact_tree
from runlocalai_bench.types import RigInfo, RuntimeInfo, to_dict


def _probe_runtime(endpoint: str) -> RuntimeInfo:
    try:
        from runlocalai_bench.runtime.probe import probe_endpoint
    except ModuleNotFoundError as exc:
        if exc.name != "runlocalai_bench.runtime.probe":
            raise
        raise ConfigError(
            "this rla build cannot probe inference servers (runlocalai_bench.runtime.probe is "
            "missing)",
            hint="run `rla rig` without --endpoint, or reinstall rla",
        ) from exc
    return probe_endpoint(endpoint)


def _runtime_table(runtime: RuntimeInfo, rig: RigInfo) -> Table:
    table = Table(title="Runtime", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    model = runtime.model
    rows: list[tuple[str, Any]] = [
        ("leaderboard rig", f"{runtime.slug} {rig.hardware_slug}"),
        ("engine", runtime.engine),
        ("version", runtime.version),
        ("build", runtime.build),
        ("endpoint", runtime.endpoint),
        ("model", model.id),
        ("quantization", model.quantization),
        ("parameters", model.parameters),
        ("context", runtime.n_ctx or model.context_length),
        ("slots", runtime.slots),
    ]
    for field, value in rows:
        if value not in (None, ""):
            table.add_row(field, Text(redact(str(value))))
    return table


def rig(
    endpoint: str = typer.Option(
        None, "--endpoint", metavar="URL", help="Also identify the inference server at this URL."),
    json_output: bool = typer.Option(
        False, "--json", help="Print the rig as JSON on stdout (with --endpoint, a `runtime` key "
                              "is added)."),
) -> None:
    """Show this machine: OS, CPU, memory, GPUs and the leaderboard hardware slug."""
    from runlocalai_bench.rig import detect_rig, render_rig

    info = detect_rig()
    runtime = _probe_runtime(endpoint) if endpoint else None
    out = ui.stdout_console()
    if json_output:
        payload = to_dict(info)
        if runtime is not None:
            payload["runtime"] = redact_tree(to_dict(runtime))
        out.print_json(data=payload)
        return
    out.print(render_rig(info))
    if runtime is not None:
        out.print(_runtime_table(runtime, info))
