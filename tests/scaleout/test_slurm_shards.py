"""The documented Slurm array script (docs/scale-out/slurm-array.sh), run for real on the test
cluster: four tasks, each `rla bench selfcheck --shard auto` against one loopback server, come
to exactly the unsharded run, sample for sample."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.support.cli import rla
from tests.support.llama_stub import StubLlamaServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).parents[2] / "docs" / "scale-out" / "slurm-array.sh"


def letter(prompt: str) -> str:
    """A different answer per question, the same for the same prompt wherever it is asked."""
    return "ABCD"[hashlib.sha256(prompt.encode()).digest()[0] % 4]


def samples_by_id(run: rundir.RunDir) -> dict[str, dict]:
    """Each sample as written, less its wall-clock latency (the one field a rerun changes)."""
    out = {}
    for sample in rundir.read_samples(run.samples):
        assert sample["id"] not in out, sample["id"]
        out[sample["id"]] = {k: v for k, v in sample.items() if k != "latency_ms"}
    return out


def rla_on_path(folder: Path) -> str:
    """A PATH whose `rla` is this interpreter's rla, as the tasks' nodes would have installed."""
    folder.mkdir()
    shim = folder / "rla"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m runlocalai_bench "$@"\n')
    shim.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_a_slurm_array_of_shards_is_the_unsharded_run(slurm, tmp_path):
    server = StubLlamaServer(policy=letter).start()
    try:
        whole = rla("bench", "selfcheck", "--endpoint", server.url, "--model", "stub",
                    "--output-dir", str(tmp_path / "whole"))
        assert whole.returncode == 0, whole.stderr
        slurm.run_array(SCRIPT, "selfcheck", "--model", "stub", tasks=4, cwd=tmp_path,
                        env={"PATH": rla_on_path(tmp_path / "bin"), "RLA_ENDPOINT": server.url,
                             "RLA_OUTPUT_DIR": str(tmp_path / "runs")})
    finally:
        server.stop()
    (unsharded,) = (rundir.RunDir(p) for p in (tmp_path / "whole").iterdir())
    (job,) = (tmp_path / "runs").iterdir()  # the script's folder for this array job
    shards = [rundir.RunDir(p) for p in sorted(job.iterdir())]
    assert len(shards) == 4, slurm.logs()
    announced = sorted(line for shard in shards for line in shard.run_log.read_text().splitlines()
                       if line.startswith("shard "))
    assert announced == [f"shard      {i}/4 (lpt-v1, from slurm)" for i in range(4)]

    expected = samples_by_id(unsharded)
    parts = [samples_by_id(shard) for shard in shards]
    assert sorted(len(part) for part in parts) == [3, 3, 3, 3]
    merged = {key: sample for part in parts for key, sample in part.items()}
    assert sum(map(len, parts)) == len(merged) == len(expected) == 12
    assert merged == expected
    assert {s["extracted"] for s in expected.values()} == set("ABCD")  # the answers vary
    for shard in shards:
        record = json.loads(shard.record.read_text())
        assert record["results"]["partial"] is True and record["results"]["n"] == 3
