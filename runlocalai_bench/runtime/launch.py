"""Starting a local inference server: the command from its runner spec, and where rla's own
llama-server build lives."""

from __future__ import annotations

from pathlib import Path

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.specs import load_spec


def launch_command(runner: str, **values: object) -> list[str]:
    """The runner spec's `launch` template with its braces filled:
    launch_command("llama-server", binary=..., model_path=..., host=..., port=..., n_ctx=...,
    seed=...)."""
    template = load_spec("runners", runner).get("launch")
    if not template:
        raise ConfigError(
            f"runner {runner!r} has no launch command",
            hint="start the server yourself and pass --endpoint",
        )
    try:
        return [str(part).format(**values) for part in template]
    except KeyError as exc:
        raise ConfigError(
            f"launching {runner} needs a value for {{{exc.args[0]}}}",
            hint=f"see runners/{runner}.toml",
        ) from None


def find_llama_server(cache_dir: Path) -> Path | None:
    """The newest llama-server built by scripts/build-llama-server.sh under `cache_dir`
    (<cache>/llama-server/<version>-<key>/build/bin/llama-server), if any."""
    builds = [p for p in cache_dir.glob("llama-server/*/build/bin/llama-server") if p.is_file()]
    return max(builds, key=lambda p: p.stat().st_mtime, default=None)
