"""One sandbox host: the `_sandbox_child.py` process, its control socket, and the frames of each
job it runs, read and checked here against the job's time limits and output caps."""

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
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runlocalai_bench.scoring import _sandbox_child as wire
from runlocalai_bench.scoring.sandbox_jobs import (
    EndReason,
    Frame,
    FrameKind,
    Job,
    JobEnd,
    Level,
    SandboxError,
    SandboxLimits,
)

CHILD_PROGRAM = Path(wire.__file__).resolve()

_F_SETPIPE_SZ = 1031
_START_TIMEOUT = 30.0
_END_GRACE = 10.0  # for the host to confirm a kill
_EXIT_GRACE = 2.0  # for a job that has finished its output to exit

_KINDS: dict[bytes, FrameKind] = {
    wire.FRAME_LOADED: "loaded", wire.FRAME_LOAD_ERROR: "load_error",
    wire.FRAME_OUTPUT: "output", wire.FRAME_ARGS: "args", wire.FRAME_RAISED: "raised",
    wire.FRAME_DONE: "done",
}


class StartFailed(Exception):
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


class Host:
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
            raise StartFailed(f"could not start {sys.executable}: {exc}") from exc
        self.dead = False
        try:
            wire.send(self.sock, {"level": level, "limits": asdict(limits),
                                  "base_dir": str(base_dir)})
            reply = _recv_within(self.sock, _START_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.kill()
            raise StartFailed(f"host did not start: {exc or type(exc).__name__}") from exc
        if not reply or not reply.get("ok"):
            self.kill()
            raise StartFailed((reply or {}).get("error") or self._log_tail() or "host exited")
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
        inputs = job.inputs_json.encode()
        message = {"op": "run", "code": job.code, "entry_point": job.entry_point,
                   "inputs_size": len(inputs), "send_args": job.send_args,
                   "cpu_seconds": job.total_timeout + 1.0}
        started = time.monotonic()
        try:
            body = json.dumps(message).encode()
            header = wire.MSG_HEADER.pack(len(body))
            socket.send_fds(self.sock, [header], [write_fd])
            self.sock.sendall(body)
            self.sock.sendall(inputs)  # as they are: no JSON string escaping on either side
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
