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
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from runlocalai_bench.errors import RlaError
from runlocalai_bench.scoring import _sandbox_child as wire

Level = Literal["namespaces", "landlock", "rlimits"]
LEVELS: tuple[Level, ...] = ("namespaces", "landlock", "rlimits")
CHILD_PROGRAM = Path(wire.__file__).resolve()

_F_SETPIPE_SZ = 1031
_START_TIMEOUT = 30.0
_END_GRACE = 10.0  # for the host to confirm a kill
_EXIT_GRACE = 2.0  # for a job that has finished its output to exit


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

    @property
    def confines_files(self) -> bool:
        return self.level in ("namespaces", "landlock")

    @property
    def blocks_network(self) -> bool:
        return "network-namespace" in self.mechanisms or "seccomp" in self.mechanisms

    @property
    def blocks_processes(self) -> bool:
        return "seccomp" in self.mechanisms

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
_KINDS: dict[bytes, FrameKind] = {
    wire.FRAME_LOADED: "loaded", wire.FRAME_LOAD_ERROR: "load_error",
    wire.FRAME_OUTPUT: "output", wire.FRAME_ARGS: "args", wire.FRAME_RAISED: "raised",
    wire.FRAME_DONE: "done",
}


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


def encode_value(value: object) -> bytes:
    """The wire form of a value, exactly as a job encodes its return values."""
    return wire.encode(value)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------


class _StartFailed(Exception):
    pass


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _recv_within(sock: socket.socket, timeout: float) -> dict[str, Any] | None:
    """One control message, or None on end of stream; raises TimeoutError past `timeout`."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    if not poller.poll(max(0.0, timeout) * 1000):
        raise TimeoutError
    return wire.recv(sock)


class _Host:
    """One host process and its control socket; used by one thread at a time."""

    def __init__(self, level: Level, limits: SandboxLimits, base_dir: Path, number: int) -> None:
        self.limits = limits
        self.log_path = base_dir / f"host-{number}.log"
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with child, open(self.log_path, "wb", opener=_private) as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-s", "-B", "-P", str(CHILD_PROGRAM), str(child.fileno())],
                    pass_fds=(child.fileno(),), env={"PYTHONHASHSEED": "0"}, cwd=base_dir,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                    start_new_session=True,
                )
        except OSError as exc:
            self.sock.close()
            raise _StartFailed(f"could not start {sys.executable}: {exc}") from exc
        self.dead = False
        try:
            wire.send(self.sock, {"level": level, "limits": asdict(limits),
                                  "base_dir": str(base_dir)})
            reply = _recv_within(self.sock, _START_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.kill()
            raise _StartFailed(f"host did not start: {exc or type(exc).__name__}") from exc
        if not reply or not reply.get("ok"):
            self.kill()
            raise _StartFailed((reply or {}).get("error") or self._log_tail() or "host exited")
        self.info = reply

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return text.splitlines()[-1][:300] if text else ""

    def kill(self) -> None:
        self.dead = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        self.sock.close()

    def close(self) -> None:
        if self.dead:
            return
        self.dead = True
        self.sock.close()  # end of stream: the host exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    # -- one job -----------------------------------------------------------------------------

    def run(self, job: Job, on_frame: Callable[[Frame], bool]) -> JobEnd:
        read_fd, write_fd = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, 1 << 20)
        message = {"op": "run", "code": job.code, "entry_point": job.entry_point,
                   "inputs": job.inputs_json, "send_args": job.send_args,
                   "cpu_seconds": job.total_timeout + 1.0}
        started = time.monotonic()
        try:
            body = json.dumps(message).encode()
            header = wire.MSG_HEADER.pack(len(body))
            socket.send_fds(self.sock, [header], [write_fd])
            self.sock.sendall(body)
        except OSError:
            os.close(read_fd)
            self.kill()
            return JobEnd("host-died", elapsed=time.monotonic() - started)
        finally:
            os.close(write_fd)
        try:
            reason, timed_out = self._read_frames(read_fd, job, on_frame, started)
        finally:
            os.close(read_fd)
        return self._finish(reason, timed_out, started)

    def _read_frames(self, fd: int, job: Job, on_frame: Callable[[Frame], bool],
                     started: float) -> tuple[EndReason, int | None]:
        limits = job.time_limits
        total_deadline = started + job.total_timeout
        deadline = total_deadline
        output_cap = self.limits.output_mb * 1024 * 1024
        frame_cap = self.limits.frame_mb * 1024 * 1024
        header_size = wire.FRAME.size
        buf = bytearray()
        received = 0
        loaded = False
        awaiting_args = False
        next_index = 0
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", next_index if loaded else None
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return "exited", None
            received += len(chunk)
            if received > output_cap:
                return "output-limit", None
            buf += chunk
            while len(buf) >= header_size:
                raw_kind, index, seconds, length = wire.FRAME.unpack_from(buf)
                if length > frame_cap:
                    return "output-limit", None
                if len(buf) < header_size + length:
                    break
                payload = bytes(buf[header_size:header_size + length])
                del buf[:header_size + length]
                kind = _KINDS.get(raw_kind)
                valid = (
                    (kind in ("loaded", "load_error") and not loaded)
                    or (kind in ("output", "raised") and loaded and not awaiting_args
                        and index == next_index < job.n_inputs)
                    or (kind == "args" and awaiting_args and index == next_index - 1)
                    or (kind == "done" and loaded and not awaiting_args
                        and index == next_index == job.n_inputs)
                )
                if not valid or kind is None:
                    return "protocol", None
                keep_going = on_frame(Frame(kind, index, seconds, payload))
                if kind in ("load_error", "raised", "done"):
                    return "completed", None
                if kind == "loaded":
                    loaded = True
                elif kind == "output":
                    next_index += 1
                    awaiting_args = job.send_args
                elif kind == "args":
                    awaiting_args = False
                if not keep_going:
                    return "stopped", None
                if not awaiting_args:
                    now = time.monotonic()
                    deadline = (min(now + limits[next_index], total_deadline)
                                if next_index < job.n_inputs else total_deadline)

    def _finish(self, reason: EndReason, timed_out: int | None, started: float) -> JobEnd:
        """Make sure the job is dead and reaped, and read its exit status."""
        killed = reason not in ("completed", "exited")
        if killed:
            self._send_kill()
        # A job that sent its last frame or closed its output exits within moments; one that
        # lingers is killed after _EXIT_GRACE.
        wait_until = time.monotonic() + (_END_GRACE if killed else _EXIT_GRACE)
        while True:
            try:
                reply = _recv_within(self.sock, wait_until - time.monotonic())
            except TimeoutError:
                if killed:
                    self.kill()
                    return JobEnd("host-died", timed_out, elapsed=time.monotonic() - started)
                killed = True
                self._send_kill()
                wait_until = time.monotonic() + _END_GRACE
                continue
            except OSError:
                reply = None
            if reply is None:
                self.kill()
                return JobEnd("host-died", timed_out, elapsed=time.monotonic() - started)
            if reply.get("op") == "ended":
                if reply.get("error"):
                    raise SandboxError(f"sandbox host failed: {reply['error']}",
                                       hint="the isolation notes in the run's record say what "
                                            "this machine allows")
                return JobEnd(reason, timed_out, reply.get("exit"), reply.get("signal"),
                              time.monotonic() - started)

    def _send_kill(self) -> None:
        with contextlib.suppress(OSError):
            wire.send(self.sock, {"op": "kill"})


# ---------------------------------------------------------------------------------------------


class Sandbox:
    """A pool of warm hosts; `run` is safe to call from many threads at once (each call takes
    one host). `level="auto"` takes the strongest level this machine permits."""

    def __init__(self, workers: int | None = None, level: Level | Literal["auto"] = "auto",
                 limits: SandboxLimits | None = None) -> None:
        self.workers = workers or default_workers()
        self.requested = level
        self.limits = limits or SandboxLimits()
        self._lock = threading.Condition()
        self._idle: list[_Host] = []
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

    def _acquire(self) -> _Host:
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

    def _release(self, host: _Host) -> None:
        with self._lock:
            if host.dead or self._closed:
                self._count -= 1
                if not host.dead:
                    host.close()
            else:
                self._idle.append(host)
            self._lock.notify()

    def _start_host(self) -> _Host:
        with self._lock:
            self._started += 1
            number = self._started
        if self._level is not None:
            try:
                return _Host(self._level, self.limits, self._base_dir, number)
            except _StartFailed as exc:
                raise SandboxError(f"a sandbox host failed to start at level {self._level}: "
                                   f"{exc}", hint="retry; if it persists, report it") from exc
        candidates = LEVELS if self.requested == "auto" else (self.requested,)
        fallbacks: list[str] = []
        for level in candidates:
            try:
                host = _Host(level, self.limits, self._base_dir, number)
            except _StartFailed as exc:
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
