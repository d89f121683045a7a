"""The acceptance case on the real model: a gemma-3-270m selfcheck run on a real llama-server,
reproduced by another operator on the same machine and server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.support.cli import rla

pytestmark = pytest.mark.integration


def operator(home: Path) -> dict[str, str]:
    """The environment of an operator whose rla home is `home`."""
    return {"RLA_HOME": str(home)}


def test_reproducing_gemma_on_llama_server_gives_identical_samples(llama_server, tmp_path):
    submitter, editor = tmp_path / "submitter", tmp_path / "editor"
    for home in (submitter, editor):
        assert rla("keys", "init", env=operator(home)).returncode == 0
    # the runs in real processes, as the two operators run them
    bench = rla("bench", "selfcheck", "--endpoint", llama_server.url, "--limit", "4",
                "--output-dir", str(tmp_path / "runs"), env=operator(submitter), process=True,
                timeout=900)
    assert bench.returncode == 0, bench.stderr
    (path,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    original = rundir.RunDir(path)
    assert rla("keys", "sign", str(original.path), env=operator(submitter)).returncode == 0

    proc = rla("reproduce", str(original.path), "--endpoint", llama_server.url,
               "--output-dir", str(tmp_path / "reruns"), "--json", env=operator(editor),
               process=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "reproduced", report["reasons"]
    assert report["independent"] is True
    assert [d["status"] for d in report["dimensions"]] == ["match"] * 4
    assert report["dimensions"][0]["original"].startswith("gemma3 268M")
    assert report["comparison"]["samples"] == {"compared": 4, "agreeing": 4, "disagreeing": 0,
                                             "flipped": 0}

    # identical per-sample outputs, down to the first token's top log-probabilities
    rerun = rundir.RunDir(Path(report["reproduction"]["path"]))
    def outputs(run: rundir.RunDir) -> dict[str, tuple]:
        return {s["id"]: (s["response"], s["extracted"], s["generation"]["top_logprobs"])
                for s in rundir.read_samples(run.samples)}

    assert outputs(rerun) == outputs(original)
    assert len(outputs(original)) == 4
