"""What the scale-out tests share: the unsharded run to compare with, the tools a task finds on
its PATH (rla, and a llama-server stand-in), and the check that merged shards are that run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from runlocalai_bench.results import rundir
from tests.support.cli import rla
from tests.support.data import unavailable
from tests.support.llama_stub import StubLlamaServer

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "docs" / "scale-out"

# llama-server as the examples start it: its arguments noted in LAUNCHES, then a loopback
# stand-in that answers "A" (tests/support/replica_stub.py) on its --port; STAND_IN_DIE_AFTER=N
# makes that server exit when the (N+1)th completion arrives.
STAND_IN = """#!/bin/sh
echo "$@" >> "{launches}"
while [ $# -gt 0 ]; do [ "$1" = --port ] && port=$2; shift; done
PYTHONPATH="{root}" exec "{python}" -m tests.support.replica_stub --port "$port" --delay 0 \\
    ${{STAND_IN_DIE_AFTER:+--die-after "$STAND_IN_DIE_AFTER"}}
"""
LAUNCHES = "llama-server.args"


def letter(prompt: str) -> str:
    """A different answer per question, the same for the same prompt wherever it is asked."""
    return "ABCD"[hashlib.sha256(prompt.encode()).digest()[0] % 4]


def answer_a(prompt: str) -> str:
    """The stand-in llama-server's answer to everything."""
    return "A"


def samples_by_id(run: rundir.RunDir) -> dict[str, dict]:
    """Each sample as written, less its wall-clock latency (the one field a rerun changes)."""
    out = {}
    for sample in rundir.read_samples(run.samples):
        assert sample["id"] not in out, sample["id"]
        out[sample["id"]] = {k: v for k, v in sample.items() if k != "latency_ms"}
    return out


def unsharded(tmp_path: Path, policy: Callable[[str], str], *args: str) -> rundir.RunDir:
    """`rla bench selfcheck ARGS` in one piece against a loopback server answering `policy`."""
    server = StubLlamaServer(policy=policy).start()
    try:
        whole = rla("bench", "selfcheck", "--endpoint", server.url, *args,
                    "--output-dir", str(tmp_path / "whole"))
    finally:
        server.stop()
    assert whole.returncode == 0, whole.stderr
    (run,) = (rundir.RunDir(p) for p in (tmp_path / "whole").iterdir())
    return run


def tools_on_path(tmp_path: Path) -> str:
    """A PATH whose `rla` is this interpreter's rla (as the nodes would have it installed) and
    whose `llama-server` is the stand-in, noting its launches in tmp_path/LAUNCHES. The
    examples wait for their server with curl: without it the test skips (or fails, in
    mandatory mode)."""
    if shutil.which("curl") is None:
        unavailable("curl is not installed: run scripts/system-packages.sh as root")
    folder = tmp_path / "bin"
    if not folder.exists():
        folder.mkdir()
        tools = {"rla": f'#!/bin/sh\nexec "{sys.executable}" -m runlocalai_bench "$@"\n',
                 "llama-server": STAND_IN.format(launches=tmp_path / LAUNCHES, root=REPOSITORY,
                                                 python=sys.executable)}
        for name, text in tools.items():
            (folder / name).write_text(text)
            (folder / name).chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def merge(shards: Sequence[rundir.RunDir], out: Path) -> Path:
    ran = rla("merge", *(str(shard.path) for shard in shards), "-o", str(out))
    assert ran.returncode == 0, ran.stderr
    return out


def assert_merged_is_whole(merged: Path, shards: Sequence[rundir.RunDir],
                           whole: rundir.RunDir) -> None:
    """The merged shards hold the unsharded run's samples, each once, and its results; the
    record lists every shard."""
    run = rundir.RunDir(merged)
    assert samples_by_id(run) == samples_by_id(whole)
    assert len(samples_by_id(whole)) == 12
    assert json.loads(run.results.read_text()) == json.loads(whole.results.read_text())
    record = json.loads(run.record.read_text())
    assert [(entry["index"], entry["run_id"]) for entry in record["shards"]] == [
        (i, shard.id) for i, shard in enumerate(shards)]


def assert_shards_split_whole(shards: Sequence[rundir.RunDir], whole: rundir.RunDir) -> None:
    """Four shards of three questions, together the unsharded run's samples, each once."""
    parts = [samples_by_id(shard) for shard in shards]
    assert [len(part) for part in parts] == [3, 3, 3, 3]
    joined = {key: sample for part in parts for key, sample in part.items()}
    assert len(joined) == 12 and joined == samples_by_id(whole)
