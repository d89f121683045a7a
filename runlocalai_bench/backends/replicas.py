"""Several endpoints in one run (`rla bench SLUG --endpoint A --endpoint B …`): replicas of one
model on one kind of rig, each probed, each sent items while it has a free slot.

    replica_configs   the run's config for each endpoint (the config itself when there is one)
    differences       what makes a probed endpoint not a replica of the first: engine, version
                      and build; the weights (sha256, quantization, parameters, size); the chat
                      template; the context, slots, sampler defaults and the launch settings the
                      server states. Names that are only names (the model's id and path, an
                      alias) may differ
    check_replicas    a ConfigError naming the first difference, with both values

Sending is runlocalai_bench/dispatch.py's: each endpoint gets --concurrency workers over one
shared queue, so an item goes to whichever endpoint is free. An endpoint that keeps failing (its
FaultBudget spent, or a request failed for good: backends/http.py) is retired and the items it
had in flight go back to the queue for the others; only an answered item is logged, so none is
lost or asked twice. When every endpoint is retired the run stops, resumable, as a one-endpoint
run does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from runlocalai_bench.config import RunConfig
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.redact import redact
from runlocalai_bench.types import RuntimeInfo

# Server settings that name rather than define the model (llama-server --alias).
_NAMES_ONLY = ("model_alias",)

_FIELDS: tuple[tuple[str, Callable[[RuntimeInfo], Any]], ...] = (
    ("runtime", lambda r: r.engine),
    ("runtime version", lambda r: r.version),
    ("build", lambda r: r.build),
    ("weights sha256", lambda r: r.model.sha256),
    ("quantization", lambda r: r.model.quantization),
    ("parameters", lambda r: r.model.parameters),
    ("model size (bytes)", lambda r: r.model.size_bytes),
    ("architecture", lambda r: r.model.architecture),
    ("training context", lambda r: r.model.context_length),
    ("chat template sha256", lambda r: r.model.chat_template_sha256),
    ("context (n_ctx)", lambda r: r.n_ctx),
    ("slots", lambda r: r.slots),
    ("sampler defaults", lambda r: dict(r.sampler_defaults)),
    ("server settings", lambda r: {k: v for k, v in r.settings.items() if k not in _NAMES_ONLY}),
)


def replica_configs(config: RunConfig) -> list[RunConfig]:
    """One config per endpoint, each with that endpoint alone; `[config]` for a run of one
    endpoint or in process."""
    if not config.replicas:
        return [config]
    return [replace(config, endpoint=url, replicas=()) for url in config.endpoints]


def differences(first: RuntimeInfo, other: RuntimeInfo) -> list[tuple[str, Any, Any]]:
    """(field, the first endpoint's value, the other's) for each field they disagree on."""
    out = []
    for name, value in _FIELDS:
        a, b = value(first), value(other)
        if a != b:
            out.append((name, a, b))
    return out


def check_replicas(endpoints: Sequence[str], runtimes: Sequence[RuntimeInfo]) -> None:
    """Refuse a run whose endpoints are not replicas of the first, naming the field."""
    first = runtimes[0]
    for url, runtime in zip(endpoints[1:], runtimes[1:], strict=True):
        found = differences(first, runtime)
        if not found:
            continue
        name, a, b = found[0]
        more = f" (and {len(found) - 1} more: {', '.join(f[0] for f in found[1:])})" \
            if len(found) > 1 else ""
        raise ConfigError(
            f"--endpoint {redact(url)} is not a replica of {redact(endpoints[0])}: {name}"
            f" {_shown(b)}, not {_shown(a)}{more}",
            hint="the endpoints of one run serve the same weights with the same runtime build"
            " and server settings; start them alike, or run each as a run of its own")


def _shown(value: Any) -> str:
    text = redact(repr(value))
    return text if len(text) <= 120 else text[:117] + "…"
