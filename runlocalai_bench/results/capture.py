"""run.log's capture: everything written to stdout and stderr during a run, as the user saw it.

The capture works at the file-descriptor level, so output of native code (llama.cpp's own
logging, in process) lands in the log too. Each descriptor is tee'd: bytes go unchanged to the
terminal and, line by line, to run.log with ANSI escapes removed, carriage-return redraws
collapsed to their final state, and secrets redacted.

The live progress bar is drawn straight to the terminal (`terminal()`), not through the tee;
instead `note()` writes plain progress lines, including the final state, into the log.
`settle()` waits until the tee has passed on what was written so far, so the bar starts below
it. The lines themselves are results/runlog.py's.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from runlocalai_bench.redact import redact
from runlocalai_bench.results.runlog import closing_line

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def clean_line(raw: str) -> str:
    """The text a terminal would finally show for one line: no escapes, last CR-redraw only."""
    text = _ANSI.sub("", raw)
    if "\r" in text:
        text = text.rstrip("\r")
        text = text.rsplit("\r", 1)[-1]
    return redact(text)


class RunLog:
    def __init__(self, path: Path, *, header: str) -> None:
        self.path = path
        self.header = header
        self._lock = threading.Lock()
        self._log: IO[bytes] | None = None
        self._saved: dict[int, int] = {}
        self._threads: list[threading.Thread] = []
        self._terminal: IO[str] | None = None
        self._saved_streams: tuple[IO[str], IO[str]] | None = None
        self._read_ends: list[int] = []
        self._in_hand: dict[int, bool] = {}  # per pump: a chunk read, not yet passed on

    def __enter__(self) -> RunLog:
        self._log = self.path.open("ab")
        self._write_log_line(self.header)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for fd in (1, 2):
            self._saved[fd] = os.dup(fd)
            read_end, write_end = os.pipe()
            self._read_ends.append(read_end)
            os.dup2(write_end, fd)
            os.close(write_end)
            thread = threading.Thread(target=self._pump, args=(read_end, self._saved[fd]),
                                      name=f"rla-runlog-{fd}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # Python-level writers go through the same descriptors even if sys.stdout/sys.stderr
        # were replaced by a host program (a test runner, a notebook).
        self._saved_streams = (sys.stdout, sys.stderr)
        sys.stdout = _fd_text_stream(1)
        sys.stderr = _fd_text_stream(2)
        return self

    def terminal(self) -> IO[str]:
        """A text stream to the real stderr, bypassing the log (for live progress)."""
        if self._terminal is None:
            self._terminal = io.TextIOWrapper(
                os.fdopen(os.dup(self._saved[2]), "wb", buffering=0),
                encoding="utf-8", errors="replace", write_through=True,
            )
        return self._terminal

    def terminal_is_tty(self) -> bool:
        return os.isatty(self._saved.get(2, 2))

    def settle(self, timeout: float = 2.0) -> None:
        """Return once what was written to stdout and stderr so far has reached the terminal
        (both pipes empty and no chunk in a pump's hands, twice 10 ms apart), or after
        `timeout` seconds: a bar drawn straight to the terminal then starts below it."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2 and time.monotonic() < deadline:
            quiet = quiet + 1 if self._drained() else 0
            time.sleep(0.01)

    def _drained(self) -> bool:
        try:
            import fcntl
            import termios
        except ImportError:  # no FIONREAD (Windows): nothing to wait on
            return True
        for fd in self._read_ends:
            try:
                waiting = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
            except OSError:
                return True
            if int.from_bytes(waiting, sys.byteorder):
                return False
        return not any(self._in_hand.values())

    def note(self, line: str) -> None:
        """Write a line to run.log only (progress milestones)."""
        self._write_log_line(line)

    def _write_log_line(self, text: str) -> None:
        if self._log is None:
            return
        with self._lock:
            self._log.write((clean_line(text) + "\n").encode("utf-8", "replace"))
            self._log.flush()

    def _pump(self, read_end: int, out_fd: int) -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as reader:
            while chunk := reader.read(65536):
                self._in_hand[out_fd] = True
                with contextlib.suppress(OSError):
                    os.write(out_fd, chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._write_log_line(line.decode("utf-8", "replace"))
                self._in_hand[out_fd] = False
        if pending:
            self._write_log_line(pending.decode("utf-8", "replace"))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        if self._saved_streams:
            ours = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = self._saved_streams
            for stream in ours:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # closes the pipe's last write end: the pump sees EOF
        for thread in self._threads:
            thread.join(timeout=10)
        for saved in self._saved.values():
            os.close(saved)
        if self._terminal is not None:
            self._terminal.close()
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        self._write_log_line(closing_line(stamp))
        if self._log is not None:
            self._log.close()
            self._log = None


def _fd_text_stream(fd: int) -> IO[str]:
    return io.TextIOWrapper(os.fdopen(os.dup(fd), "wb", buffering=0), encoding="utf-8",
                            errors="replace", write_through=True)
