"""One command's wall time, CPU time and peak RSS, read from the kernel for that process alone.

Linux counts in a child's peak RSS the peak of the image it replaced at exec, so a command
started straight from a benchmark that holds a stub server (which keeps every request body) or
a full run's samples reports the benchmark's own peak. The command is therefore started by a
small launcher process, which reads the command's rusage with os.wait4 and prints it as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "w") as log:
    child = subprocess.Popen(sys.argv[2:], stdout=log, stderr=log)
    _, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status),
                  "wall_s": time.perf_counter() - started,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}))
"""


@dataclass(frozen=True)
class Measured:
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    log: Path  # the command's stdout and stderr together

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def measure(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> Measured:
    """Run `argv` through the launcher; its output goes to `log`."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(log), *argv],
                          env=None if env is None else dict(env), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"the measuring launcher failed:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout)
    return Measured(got["exit"], got["wall_s"], got["cpu_s"],
                    got["maxrss_kib"] / 1024.0,  # Linux reports KiB
                    log)


def rla_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "runlocalai_bench", *args]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)
