"""run.log's capture: output of Python, native code and child processes, redacted, in the log."""

from __future__ import annotations

import os
import subprocess
import sys

from runlocalai_bench.results import runlog
from runlocalai_bench.results.capture import RunLog, clean_line
from runlocalai_bench.results.runlog import ProgressLine, Title


def test_captures_python_native_and_child_output_and_redacts(tmp_path, monkeypatch):
    token = "ghp_" + "A1b2C3d4" * 5
    path = tmp_path / "run.log"
    with RunLog(path, header="# header") as log:
        print("to stdout")
        print(f"leaked {token}", file=sys.stderr)
        os.write(2, b"native stderr line\n")
        subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
        log.note("progress 1/1")
        print("carriage\rreturn redraw \x1b[1mbold\x1b[0m")
    text = path.read_text()
    for expected in ("# header", "to stdout", "native stderr line", "from a child process",
                     "progress 1/1", "return redraw bold"):
        assert expected in text
    assert token not in text and "[REDACTED]" in text
    assert "\x1b" not in text


def test_terminal_stream_bypasses_the_log(tmp_path):
    path = tmp_path / "run.log"
    with RunLog(path, header="h") as log:
        term = log.terminal()
        term.write("live bar frame\n")
        term.flush()
    assert "live bar frame" not in path.read_text()


def test_clean_line_keeps_the_final_redraw():
    assert clean_line("10%\r50%\r100% done") == "100% done"
    assert clean_line("\x1b[2K\x1b[1Aok") == "ok"


def test_the_capture_writes_the_title_and_the_closing_line(tmp_path):
    title = Title("0.4.0", "r1", "2026-01-01T00:00:00+00:00")
    path = tmp_path / "run.log"
    with RunLog(path, header=title.line()) as log:
        log.note(ProgressLine.start(0, 1))
    lines = path.read_text().splitlines()
    assert runlog.titles(lines) == [title]
    assert runlog.is_closed(runlog.last_session(lines))


def test_settle_lets_the_header_reach_the_terminal_before_the_bar(tmp_path):
    """stdout goes through the tee (a pump thread), the bar straight to the terminal: after
    settle() the bar's first frame comes after every header line, as the user reads them."""
    screen = tmp_path / "screen"
    script = f"""
import os, sys
from pathlib import Path
from runlocalai_bench.results.capture import RunLog
fd = os.open({str(screen)!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
os.dup2(fd, 1)
os.dup2(fd, 2)
with RunLog(Path({str(tmp_path / "run.log")!r}), header="h") as log:
    for i in range(3000):
        print(f"header line {{i}}", flush=True)
    log.settle()
    log.terminal().write("BAR FRAME\\n")
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    lines = screen.read_text().splitlines()
    assert lines.index("BAR FRAME") > lines.index("header line 2999")
