"""What a record's run asked for, as `rla reproduce` reruns it: the slug and the result-deciding
flags (`requested`), from record.request (version 3) or its reproduction command (version 2).

Version 2 records (record-v2, speed-record-v1) state their run's request only as the command
that reruns it, `rla bench SLUG …`, written by `results.record.reproduction_command` (scored runs)
and `speed.record.reproduction_command` (speed runs). This reads exactly what those write: the
flags below, `--flag value` or `--flag=value`, values quoted as `shlex` quotes them. Any other
token is refused, naming it: a command this rla did not write cannot be trusted to mean what it
says.
"""

from __future__ import annotations

import shlex
from typing import Any

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results.recordtypes import Record

# The flags of the original's command that decide what is computed and are not fields of a
# version 2 record. Its endpoint, model, paths and output are the original machine's, never
# reused.
COMMAND_FLAGS = ("limit", "limit_per_subtask", "concurrency", "n_ctx")
# Every flag the writers put in a command, with the type of its value (None: a switch).
_FLAGS: dict[str, type | None] = {
    "--endpoint": str, "--model": str, "--model-path": str, "--data-dir": str,
    "--sample": None, "--allow-unpinned": None, "--prompt-style": str, "--limit": int,
    "--limit-per-subtask": int, "--concurrency": int, "--seed": int, "--cache-prompt": None,
    "--n-ctx": int, "--n-threads": int, "--profile": str, "--n-predict": int, "--prompt": str,
    "--hardware": str, "--shard": str,
}


def requested(record: Record) -> tuple[str, dict[str, Any]]:
    """(slug, the COMMAND_FLAGS) the run asked for: its record.request, read as typed values; a
    version 2 record, which has none, by its reproduction command."""
    request = record.request
    if request is None:
        return parse_bench_command(record.command.reproduce)
    return request.benchmark, {"limit": request.limit,
                               "limit_per_subtask": request.limit_per_subtask,
                               "concurrency": request.concurrency, "n_ctx": request.n_ctx}


def parse_bench_command(command: str) -> tuple[str, dict[str, Any]]:
    """(slug, COMMAND_FLAGS) of an `rla bench …` reproduction command (None where absent)."""
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"command.reproduce cannot be parsed: {exc}",
                          hint="the record's reproduction command is damaged") from exc
    if args[:2] != ["rla", "bench"]:
        raise ConfigError(f"command.reproduce is not an `rla bench` command: {command!r}",
                          hint="only records of `rla bench` runs can be reproduced")
    slug, values = _read(args[2:])
    return slug, {name: values.get("--" + name.replace("_", "-")) for name in COMMAND_FLAGS}


def _read(args: list[str]) -> tuple[str, dict[str, Any]]:
    """The slug (the one argument that is not a flag or a flag's value) and each flag's value."""
    slug: str | None = None
    values: dict[str, Any] = {}
    rest = iter(args)
    for arg in rest:
        if not arg.startswith("-"):
            if slug is not None:
                raise _unknown(f"unexpected argument {arg!r}")
            slug = arg
            continue
        name, has_value, value = arg.partition("=")
        if name not in _FLAGS:
            raise _unknown(f"no such option: {name}")
        kind = _FLAGS[name]
        if kind is None:
            if has_value:
                raise _unknown(f"option {name} does not take a value")
            values[name] = True
            continue
        if not has_value:
            value = next(rest, None)  # type: ignore[assignment]
            if value is None:
                raise _unknown(f"option {name} requires an argument")
        try:
            values[name] = kind(value)
        except ValueError:
            raise _unknown(f"invalid value for {name}: {value!r} is not a valid integer"
                           ) from None
    if slug is None:
        raise _unknown("no benchmark slug")
    return slug, values


def _unknown(detail: str) -> ConfigError:
    return ConfigError(f"command.reproduce has flags this rla does not know: {detail}",
                       hint="reproduce with the rla version that made the record")
