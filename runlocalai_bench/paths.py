"""Where rla keeps things on the user's machine, from the environment the edge hands over (the CLI
and config building pass os.environ; nothing deeper reads it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path


def data_home(env: Mapping[str, str]) -> Path:
    """Runs, the run index and keys: $RLA_HOME, else the platform's user data dir."""
    if value := env.get("RLA_HOME"):
        return Path(value).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "rla"
    if sys.platform == "win32":
        return Path(env.get("LOCALAPPDATA") or Path.home()) / "rla"
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rla"


def cache_home(env: Mapping[str, str]) -> Path:
    """Downloads, assembled models and reference outputs: $RLA_CACHE_DIR, else ~/.cache/rla."""
    if value := env.get("RLA_CACHE_DIR"):
        return Path(value).expanduser()
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rla"
