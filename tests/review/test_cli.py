"""The editor's commands as a user types them: `rla verify`, `rescore`, `keys`, `reproduce`,
`runs diff`. One real process for the exit status and rendering; the rest through
`runlocalai_bench.cli.main` in this process (same parsing, error rendering and exit codes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from runlocalai_bench import paths, signing
from runlocalai_bench.results import rundir
from tests.review.conftest import failing_verify_in_a_process, stub_server
from tests.support.cli import rla


def test_verify_in_a_real_process(original):
    (original.path / rundir.RUN_LOG).write_text("edited\n", encoding="utf-8")
    rows = failing_verify_in_a_process(original.path)
    assert {("failed", "files", "run.log:files.run.log"), ("ok", "schema", "")} <= rows


def test_verify_json_names_file_and_field(original):
    record = rundir.read_json(original.record)
    record["results"]["score"] = 1.0
    rundir.write_json_atomic(original.record, record)

    code, out, err = rla("verify", str(original.record), "--json")
    assert code == 1 and "error: verification failed" in err
    report = json.loads(out)
    assert report["ok"] is False
    failed = {(f["check"], f["file"], f["field"]) for f in report["findings"]
              if f["status"] == "failed"}
    assert ("results", "record.json", "results.score") in failed
    assert ("samples", "record.json", "results.score") in failed


def test_rescore_alone(original):
    code, out, _ = rla("rescore", str(original.path), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["ok"] is True and result["results"]["n"] == 12
    assert result["results"]["score"] == rundir.read_json(original.record)["results"]["score"]

    lines = original.samples.read_text(encoding="utf-8").splitlines(keepends=True)
    line = json.loads(lines[0])
    line["extracted"] = "C" if line["extracted"] != "C" else "D"
    lines[0] = json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n"
    original.samples.write_text("".join(lines), encoding="utf-8")
    code, out, err = rla("rescore", str(original.path))
    assert code == 1 and "rescoring disagrees" in err
    assert f"changed: samples.jsonl {line['id']}.extracted" in out


def test_keys_init_sign_and_verify(original):
    code, out, err = rla("keys", "init")
    assert code == 0 and out.startswith("ed25519 ")
    key_id = out.split()[-1]
    assert (paths.data_home(os.environ) / "keys" / signing.PRIVATE_KEY).is_file()
    code, _, err = rla("keys", "init")
    assert code == 2 and "already exists" in err

    code, out, _ = rla("keys", "sign", str(original.path))
    assert code == 0 and key_id in out
    code, out, _ = rla("verify", str(original.path), "--json")
    assert code == 0 and json.loads(out)["signer"] == key_id
    code, out, _ = rla("keys", "show")
    assert out.split()[-1] == key_id


def test_reproduce_then_diff(original, tmp_path):
    with stub_server() as server:
        code, out, err = rla("reproduce", str(original.path), "--endpoint", server.url,
                             "--model", "stub", "--output-dir", str(tmp_path / "out"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] == "reproduced"
    rerun = Path(report["reproduction"]["path"])
    assert json.loads((rerun / "reproduction.json").read_text())["verdict"] == "reproduced"
    assert (rerun / "reproduction.md").read_text().startswith("# Reproduction of")

    # another quantization answering "A" throughout: a related benchmark, exit status 1
    with stub_server(lambda prompt: "A", model_file="stub-q5_k_m.gguf") as server:
        code, out, err = rla("reproduce", str(original.path), "--endpoint", server.url,
                             "--model", "stub", "--output-dir", str(tmp_path / "out"))
    assert code == 1
    assert "verdict: related benchmark" in out and "quantization differs" in out
    other = next(p for p in (tmp_path / "out").iterdir() if p.is_dir() and p != rerun)

    code, out, _ = rla("runs", "diff", str(original.path), str(other), "--json")
    assert code == 0
    diff = json.loads(out)
    a = {s["id"]: s for s in rundir.read_samples(original.samples)}
    expected = sorted(i for i, s in a.items() if s["extracted"] != "A")
    assert sorted(d["id"] for d in diff["disagreements"]) == expected and expected
    flipped = sorted(i for i, s in a.items() if s["score"] != (1.0 if s["target"] == "A"
                                                                else 0.0))
    assert diff["samples"] == {"compared": 12, "agreeing": 12 - len(expected),
                               "disagreeing": len(expected), "flipped": len(flipped)}
    assert sorted(f["id"] for f in diff["flips"]) == flipped
    code, out, _ = rla("runs", "diff", str(original.path), str(rerun))
    assert code == 0 and "samples: 12 of 12 identical, 0 differ" in out
    code, out, _ = rla("runs", "diff", str(original.path), str(other))
    assert "samples that differ" in out and expected[0] in out
