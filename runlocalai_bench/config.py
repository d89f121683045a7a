"""The run configuration, built once at the edge from CLI flags, a preset and the environment.

Precedence: an explicit flag beats the environment, which beats a preset from configs/, which
beats the built-in default. Nothing deeper in rla reads os.environ for run settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from runlocalai_bench import paths, specs
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.redact import redact
from runlocalai_bench.shards import Shard, shard_from_env
from runlocalai_bench.types import DataSource, PromptStyle, SamplingParams


@dataclass(frozen=True)
class RunConfig:
    slug: str
    endpoint: str | None = None
    # Further endpoints serving replicas of the same model (`--endpoint` repeated): the run
    # probes each, refuses one that differs, and sends each item to whichever is free.
    replicas: tuple[str, ...] = ()
    model: str | None = None
    model_path: Path | None = None
    data: DataSource = field(default_factory=DataSource)
    output_dir: Path = field(default_factory=lambda: paths.data_home(os.environ) / "runs")
    index_path: Path = field(default_factory=lambda: paths.data_home(os.environ) / "runs.sqlite")
    # Downloads, the embedded model, reference outputs and hashes: handed to what needs them.
    cache_dir: Path = field(default_factory=lambda: paths.cache_home(os.environ))
    limit: int | None = None
    limit_per_subtask: int | None = None
    concurrency: int = 1
    prompt_style: PromptStyle | None = None
    timeout: float = 600.0
    retries: int = 4
    # Seconds requests may go on failing in a row before the run stops (backends/http.py's
    # FAULT_WINDOW, --give-up-after).
    give_up_after: float = 300.0
    sampling: SamplingParams = field(default_factory=SamplingParams)
    n_ctx: int = 4096
    n_threads: int | None = None
    # The serving machine's hardware slug when the endpoint is another machine (--hardware).
    hardware: str | None = None
    # The part of the items this run covers (--shard; shards.py), None for all of them.
    shard: Shard | None = None
    resume: bool = False
    run_id: str | None = None
    preset: str | None = None
    # Secrets: used on the wire, never recorded.
    api_key: str | None = field(default=None, repr=False)
    argv: tuple[str, ...] = ()

    @property
    def in_process(self) -> bool:
        return self.endpoint is None

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint of the run, the first (`endpoint`) first."""
        return (self.endpoint, *self.replicas) if self.endpoint else ()


# Preset keys map onto RunConfig fields; nested tables [sampling] and [data] onto their values.
_SCALAR_KEYS = {f.name for f in fields(RunConfig)} - {"slug", "data", "sampling", "argv",
                                                     "api_key", "preset", "cache_dir", "shard",
                                                     "replicas"}


def load_preset(name_or_path: str) -> dict[str, Any]:
    """A preset by name from configs/ or by path to a TOML file."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".toml" and path.is_file():
        try:
            with path.open("rb") as fh:
                return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the preset") from exc
    return dict(specs.load_spec("configs", name_or_path))


def build_config(slug: str, flags: Mapping[str, Any], *, preset: str | None = None,
                 env: Mapping[str, str] | None = None, argv: tuple[str, ...] = ()) -> RunConfig:
    """Merge preset < environment < flags (None means 'not given') into one RunConfig."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    sampling: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if preset:
        raw = load_preset(preset)
        unknown = set(raw) - _SCALAR_KEYS - {"sampling", "data", "description", "slug"}
        if unknown:
            raise ConfigError(f"preset {preset!r} has unknown keys: {', '.join(sorted(unknown))}",
                              hint=f"known keys: {', '.join(sorted(_SCALAR_KEYS))}")
        merged.update({k: v for k, v in raw.items() if k in _SCALAR_KEYS})
        sampling.update(raw.get("sampling", {}))
        data.update(raw.get("data", {}))
    if env.get("RLA_ENDPOINT"):
        merged["endpoint"] = env["RLA_ENDPOINT"]
    if env.get("RLA_MODEL"):
        merged["model"] = env["RLA_MODEL"]
    if env.get("RLA_OUTPUT_DIR"):
        merged["output_dir"] = env["RLA_OUTPUT_DIR"]
    api_key = env.get("RLA_API_KEY") or env.get("OPENAI_API_KEY")

    for key, value in flags.items():
        if value is None:
            continue
        if key == "shard":
            merged["shard"] = shard_from_env(value, env)
        elif key == "endpoint" and isinstance(value, list | tuple):  # --endpoint repeated
            if value:
                merged["endpoint"], merged["replicas"] = value[0], tuple(value[1:])
        elif key in ("seed", "cache_prompt"):
            sampling[key] = value
        elif key in ("data_dir", "sample", "allow_unpinned"):
            data[key] = value
        elif key in _SCALAR_KEYS:
            merged[key] = value
        else:
            raise ConfigError(f"unknown setting {key!r}", hint="see `rla bench --help`")

    for key in ("output_dir", "model_path", "index_path"):
        if merged.get(key) is not None:
            merged[key] = Path(merged[key]).expanduser()
    config = RunConfig(
        slug=slug,
        sampling=replace(SamplingParams(), **_checked(sampling, SamplingParams)),
        data=_data_source(data),
        preset=preset,
        api_key=api_key,
        argv=argv,
        **merged,
    )
    return validate(config)


def _checked(values: Mapping[str, Any], cls: type) -> dict[str, Any]:
    known = {f.name for f in fields(cls)}
    bad = set(values) - known
    if bad:
        raise ConfigError(f"unknown sampling keys: {', '.join(sorted(bad))}",
                          hint=f"known: {', '.join(sorted(known))}")
    return dict(values)


def _data_source(data: Mapping[str, Any]) -> DataSource:
    data_dir, sample = data.get("data_dir"), bool(data.get("sample"))
    allow = bool(data.get("allow_unpinned"))
    if data_dir and sample:
        raise ConfigError("--data-dir and --sample are mutually exclusive",
                          hint="--sample uses the small sample bundled with rla")
    if sample:
        return DataSource(kind="bundled", allow_unpinned=allow)
    if data_dir:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise ConfigError(f"--data-dir {data_dir} is not a directory",
                              hint="point it at a local copy in the dataset's original layout")
        return DataSource(kind="dir", path=str(path.resolve()), allow_unpinned=allow)
    return DataSource(kind="hub", allow_unpinned=allow)


def validate(config: RunConfig) -> RunConfig:
    if config.endpoint and config.model_path:
        raise ConfigError("--endpoint and --model-path are mutually exclusive",
                          hint="--model-path runs the GGUF in process; --endpoint uses a server")
    if config.replicas and not config.endpoint:
        raise ConfigError("further endpoints were given without a first one",
                          hint="repeat --endpoint URL, once per server")
    for endpoint in config.endpoints:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"--endpoint {redact(endpoint)!r} is not an http(s) URL",
                              hint="for example --endpoint http://127.0.0.1:8080")
    if config.replicas:
        from runlocalai_bench.backends.http import normalise_endpoint  # httpx: only here

        roots = [normalise_endpoint(endpoint) for endpoint in config.endpoints]
        twice = sorted({root for root in roots if roots.count(root) > 1})
        if twice:
            raise ConfigError(f"--endpoint {redact(twice[0])} is given more than once",
                              hint="give each server once; --concurrency sets the requests in"
                              " flight per endpoint")
    if config.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1", hint="use --concurrency 1")
    if config.in_process and config.concurrency != 1:
        raise ConfigError("--concurrency applies to servers; in-process runs are sequential",
                          hint="drop --concurrency, or serve the model and pass --endpoint")
    if not config.give_up_after > 0:
        raise ConfigError("--give-up-after must be more than 0 seconds",
                          hint="leave it out for the default, 300")
    for name in ("limit", "limit_per_subtask"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1",
                              hint="leave it out to run the full set")
    if config.prompt_style not in (None, "completion", "chat"):
        raise ConfigError(f"--prompt-style {config.prompt_style!r} is not known",
                          hint="use completion (base models) or chat (instruct models)")
    if config.sampling.temperature != 0.0 or config.sampling.n != 1:
        raise ConfigError("rla scores greedily: temperature 0 and one sample",
                          hint="the leaderboard accepts only greedy single-sample runs")
    return config
