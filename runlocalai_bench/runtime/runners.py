"""The recognition facts of each runtime, from runners/<name>.toml: which path and keys
recognise it, where its version is, how its slug reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from runlocalai_bench.specs import load_all


@dataclass(frozen=True)
class RunnerSpec:
    """The recognition facts of one runtime, from runners/<name>.toml."""

    name: str
    engine: str
    display_name: str
    probe_order: int
    identify_path: str
    identify_keys: tuple[str, ...] = ()
    identify_values: Mapping[str, Any] = field(default_factory=dict)
    # The listing at identify_entries (dotted) must be a non-empty list of objects, each holding
    # every identify_entry_keys key and, when given, one of identify_entry_any_of.
    identify_entries: str | None = None
    identify_entry_keys: tuple[str, ...] = ()
    identify_entry_any_of: tuple[str, ...] = ()
    version_path: str | None = None
    version_field: str | None = None
    version_unknown: tuple[str, ...] = ()
    slug_format: str = "{engine}-{version}"
    models_path: str = "/v1/models"
    health_path: str = "/health"
    model_must_match: bool = False
    default_port: int | None = None

    def slug(self, version: str | None) -> str:
        return self.slug_format.format(engine=self.engine, version=version or "unknown")


@cache
def runner_specs() -> tuple[RunnerSpec, ...]:
    """Every runner spec that can be probed for, in probe order."""
    specs = []
    for name, raw in load_all("runners").items():
        if "identify_path" not in raw:
            continue
        specs.append(
            RunnerSpec(
                name=name,
                engine=raw["engine"],
                display_name=raw.get("display_name", name),
                probe_order=int(raw.get("probe_order", 50)),
                identify_path=raw["identify_path"],
                identify_keys=tuple(raw.get("identify_keys", ())),
                identify_values=dict(raw.get("identify_values", {})),
                identify_entries=raw.get("identify_entries"),
                identify_entry_keys=tuple(raw.get("identify_entry_keys", ())),
                identify_entry_any_of=tuple(raw.get("identify_entry_any_of", ())),
                version_path=raw.get("version_path"),
                version_field=raw.get("version_field"),
                version_unknown=tuple(raw.get("version_unknown", ())),
                slug_format=raw.get("slug_format", "{engine}-{version}"),
                models_path=raw.get("models_path", "/v1/models"),
                health_path=raw.get("health_path", "/health"),
                model_must_match=bool(raw.get("model_must_match", False)),
                default_port=raw.get("default_port"),
            )
        )
    return tuple(sorted(specs, key=lambda s: (s.probe_order, s.name)))


def ports_hint() -> str:
    ports = [f"{s.display_name} {s.default_port}" for s in runner_specs() if s.default_port]
    return "default ports: " + ", ".join(ports)
