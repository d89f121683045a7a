"""What crosses the sandbox's boundary: a `Job` goes in, `Frame`s come out as the job returns
values, and a `JobEnd` says how it ended; with the limits a sandbox enforces and the
`Isolation` it reports (see sandbox.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runlocalai_bench.errors import RlaError

Level = Literal["namespaces", "landlock", "rlimits"]
LEVELS: tuple[Level, ...] = ("namespaces", "landlock", "rlimits")


class SandboxError(RlaError):
    """The sandbox itself could not run (not a verdict on any solution)."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int = 4096  # RLIMIT_AS (and RLIMIT_STACK, as EvalPlus does)
    file_size_mb: int = 64  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 64  # RLIMIT_NPROC, where it counts only the sandbox's processes
    tmpfs_mb: int = 128  # the working directory's size (namespaces level)
    output_mb: int = 512  # all frames of one job
    frame_mb: int = 64  # one encoded value


@dataclass(frozen=True)
class Isolation:
    """What a sandbox actually enforced on this machine, for the record."""

    level: Level
    mechanisms: tuple[str, ...]
    notes: tuple[str, ...]  # fallbacks taken and gaps, in words

    def summary(self) -> str:
        return f"{self.level} ({', '.join(self.mechanisms)})"


@dataclass(frozen=True)
class Job:
    """One program and the inputs to call its entry point with, in order."""

    code: str
    entry_point: str
    inputs_json: str  # a JSON list of argument lists
    n_inputs: int
    time_limits: tuple[float, ...]  # seconds per input
    total_timeout: float  # seconds for the whole job, loading included
    send_args: bool = False  # also return each input's arguments after the call


FrameKind = Literal["loaded", "load_error", "output", "args", "raised", "done"]


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    index: int
    seconds: float  # the job's own measure of the call (used for reference timings only)
    payload: bytes


EndReason = Literal["completed", "stopped", "timeout", "exited", "output-limit", "protocol",
                    "host-died"]


@dataclass(frozen=True)
class JobEnd:
    """How a job ended. `completed`: it sent its last frame (done, load_error or raised);
    `stopped`: the caller asked to stop; `timeout`: an input (`timed_out_index`) or the total
    ran out; `exited`: the job's output ended early; `output-limit`, `protocol`: it wrote too
    much or garbage; `host-died`: the host process went away."""

    reason: EndReason
    timed_out_index: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    elapsed: float = 0.0
