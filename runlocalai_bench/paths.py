"""Where rla keeps things on the user's machine, resolved from the environment at the edge."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_home() -> Path:
    """Runs and the run index: $RLA_HOME, else the platform's user data dir."""
    if env := os.environ.get("RLA_HOME"):
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "rla"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "rla"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rla"


def cache_home() -> Path:
    """Downloads, assembled models and reference timings: $RLA_CACHE_DIR, else ~/.cache/rla."""
    if env := os.environ.get("RLA_CACHE_DIR"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rla"
