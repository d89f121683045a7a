"""Find and read the declarative specs: tasks/, runners/, hardware/ and configs/.

In a source checkout they sit at the repository root, where people review them; an installed
wheel carries them as `runlocalai_bench/_specs/<kind>/`. Nothing here interprets a spec.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

from runlocalai_bench.errors import ConfigError

SpecKind = Literal["tasks", "runners", "hardware", "configs"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def spec_dir(kind: SpecKind) -> Path:
    """The folder holding specs of one kind: inside the package when installed, else the repo's."""
    for candidate in (_PACKAGE_DIR / "_specs" / kind, _PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"rla's {kind}/ specs are missing from this installation",
        hint="reinstall rla: pip install --force-reinstall runlocalai-bench",
    )


def spec_path(kind: SpecKind, name: str) -> Path:
    return spec_dir(kind) / f"{name}.toml"


def spec_names(kind: SpecKind) -> list[str]:
    return sorted(p.stem for p in spec_dir(kind).glob("*.toml"))


def spec_sha256(path: Path) -> str:
    """Hash of a spec file's exact bytes: the methodology fingerprint carried by every record."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the spec file") from exc


def load_spec(kind: SpecKind, name: str) -> dict[str, Any]:
    path = spec_path(kind, name)
    if not path.is_file():
        known = ", ".join(spec_names(kind)) or "none"
        raise ConfigError(f"no {kind} spec named {name!r}", hint=f"known: {known}")
    return _load(path)


def load_all(kind: SpecKind) -> dict[str, dict[str, Any]]:
    return {name: load_spec(kind, name) for name in spec_names(kind)}
