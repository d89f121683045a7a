"""Running model-written code without trusting it.

A `Sandbox` keeps a few warm *host* processes (`_sandbox_child.py`, started with an empty
environment in their own sessions). A host sets up isolation once and then runs each job in a
fresh fork that dies afterwards, so one sample cannot affect the next. What a job can and cannot
do depends on what the OS permits; `Sandbox.isolation()` says what was in force, and callers
record it. Levels, strongest first (the module docstring of `_sandbox_child` has the details):

    namespaces  user/mount/network/IPC/PID namespaces, a private read-only root with only the
                system and Python directories, a fresh tmpfs working directory per job; the
                job is uid 0 of its own user namespace, without capabilities
    landlock    the job may read the system and Python directories and write only its own
                fresh working directory; TCP denied, signals scoped where the kernel supports it
    rlimits     neither available: limits, a fresh working directory, seccomp

Who a job is on the host, at every level: the harness's user (with that user's supplementary
groups), or, when the harness runs as root, nobody and nogroup (65534) with no supplementary
groups, never root. Such a level then starts only if a job with that uid can read the Python
on sys.path (and, without namespaces, reach the sandbox's temporary directory); otherwise it
fails and says which path. `Isolation.mechanisms` holds "uid-nobody" and the notes say so.

At every level a job runs in its own session with rlimits (address space, CPU, file size, open
files, processes where they count), an empty environment, stdin and stdout/stderr on /dev/null,
no capabilities, and where the architecture is known a seccomp filter that refuses new processes,
signals to other processes, sockets, ptrace and namespaces.

The harness never trusts what a job says about itself: a job streams its *return values* as
frames over a pipe; the caller compares them with expected values in this process. The harness
also enforces the clock: each input gets its time limit, measured here from the previous frame,
and the whole job gets a total; overrunning either kills the job. So does writing more than the
output caps. A job that dies, exits early or garbles its frames simply has not produced its
outputs, which is a failure for the caller to record.

Here: the pool of hosts (`Sandbox`), which picks the level. One host process, its control socket
and the reading of a job's frames: sandbox_host.py. What crosses the boundary (Job, Frame,
JobEnd, the limits, Isolation): sandbox_jobs.py, re-exported here.
"""
from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from runlocalai_bench.scoring import _sandbox_child as wire
from runlocalai_bench.scoring.sandbox_host import Host, StartFailed
from runlocalai_bench.scoring.sandbox_jobs import (
    LEVELS,
    EndReason,
    Frame,
    FrameKind,
    Isolation,
    Job,
    JobEnd,
    Level,
    SandboxError,
    SandboxLimits,
)

__all__ = ["LEVELS", "EndReason", "Frame", "FrameKind", "Isolation", "Job", "JobEnd", "Level",
           "Sandbox", "SandboxError", "SandboxLimits", "default_workers"]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Sandbox:
    """A pool of warm hosts; `run` is safe to call from many threads at once (each call takes
    one host). `level="auto"` takes the strongest level this machine permits."""

    def __init__(self, workers: int | None = None, level: Level | Literal["auto"] = "auto",
                 limits: SandboxLimits | None = None) -> None:
        self.workers = workers or default_workers()
        self.requested = level
        self.limits = limits or SandboxLimits()
        self._lock = threading.Condition()
        self._idle: list[Host] = []
        self._count = 0
        self._started = 0
        self._level: Level | None = None
        self._isolation: Isolation | None = None
        self._closed = False
        self._base_dir = Path(tempfile.mkdtemp(prefix="rla-sandbox-"))
        if os.geteuid() == 0:
            # Root's jobs are nobody: they must pass through here to their own working
            # directories (0700, theirs), though not list what else is here.
            self._base_dir.chmod(0o711)

    # -- public ------------------------------------------------------------------------------

    def isolation(self) -> Isolation:
        """What this sandbox enforces (starts the first host if none has started yet)."""
        if self._isolation is not None:
            return self._isolation
        host = self._acquire()
        self._release(host)
        assert self._isolation is not None
        return self._isolation

    def run(self, job: Job, on_frame: Callable[[Frame], bool]) -> JobEnd:
        """Run `job`, handing each frame to `on_frame` as it arrives; `on_frame` returns False
        to stop the job early. Returns how the job ended."""
        host = self._acquire()
        try:
            return host.run(job, on_frame)
        except BaseException:
            host.kill()
            raise
        finally:
            self._release(host)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            hosts, self._idle = self._idle, []
            self._lock.notify_all()
        for host in hosts:
            host.close()
        wire.remove_tree(str(self._base_dir))

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hosts -------------------------------------------------------------------------------

    def _acquire(self) -> Host:
        with self._lock:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox is closed")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.workers:
                    self._count += 1
                    break
                self._lock.wait()
        try:
            return self._start_host()
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def _release(self, host: Host) -> None:
        with self._lock:
            if host.dead or self._closed:
                self._count -= 1
                if not host.dead:
                    host.close()
            else:
                self._idle.append(host)
            self._lock.notify()

    def _start_host(self) -> Host:
        with self._lock:
            self._started += 1
            number = self._started
        if self._level is not None:
            try:
                return Host(self._level, self.limits, self._base_dir, number)
            except StartFailed as exc:
                raise SandboxError(f"a sandbox host failed to start at level {self._level}: "
                                   f"{exc}", hint="retry; if it persists, report it") from exc
        candidates = LEVELS if self.requested == "auto" else (self.requested,)
        fallbacks: list[str] = []
        for level in candidates:
            try:
                host = Host(level, self.limits, self._base_dir, number)
            except StartFailed as exc:
                fallbacks.append(f"{level} unavailable: {exc}")
                continue
            with self._lock:
                if self._level is None:
                    self._level = level
                    self._isolation = Isolation(
                        level=level, mechanisms=tuple(host.info.get("mechanisms", ())),
                        notes=(*fallbacks, *host.info.get("notes", ())))
            return host
        hint = ("code execution needs Linux; on other systems use a Linux VM or container"
                if os.geteuid() != 0 else
                "as root, jobs run as nobody (65534): put Python where every user can read it "
                "(chmod o+rX), or run rla as an ordinary user")
        raise SandboxError(f"no sandbox could be started ({'; '.join(fallbacks)})", hint=hint)
