"""`reproduce` end to end on real runs: the pipeline re-runs against the stub llama-server over
real HTTP, and the verdict follows the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runlocalai_bench import signing, ui
from runlocalai_bench.backends.factory import open_backend
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import rundir
from runlocalai_bench.review.report import write_report
from runlocalai_bench.review.reproduce import Reproduction, Target, reproduce
from runlocalai_bench.review.scored import ScoredPart
from runlocalai_bench.review.source import local_source
from runlocalai_bench.rig import detect_rig
from tests.review.conftest import Policy, alternating, make_run, stub_server
from tests.rig.fakes import fake_nvml, linux_host, load_json


def rerun(original: rundir.RunDir, out: Path, *, policy: Policy = alternating,
          model_file: str | None = None, keys_dir: Path | None = None) -> Reproduction:
    with stub_server(policy, model_file) as server:
        part = ScoredPart(RichRunUI(ui.stdout_console(), ui.stderr_console()),
                          open_backend=open_backend, detect_rig=detect_rig)
        return reproduce(part, local_source(original.path),
                         Target(endpoint=server.url, model="stub", output_dir=out, env={},
                                argv=("rla", "reproduce", str(original.path))),
                         keys_dir=keys_dir or out / "no-keys")


def test_the_same_model_on_the_same_machine_reproduces(original, tmp_path):
    result = rerun(original, tmp_path / "out")

    assert result.verdict == "reproduced", result.reasons
    assert [d.status for d in result.dimensions] == ["match"] * 4
    assert result.configuration == ()
    assert result.comparison is not None
    assert result.comparison.compared == result.comparison.agreeing == 12
    assert result.comparison.headline.delta_pp == 0.0
    assert result.independent is None  # neither run is signed
    rerun_dir = Path(result.reproduction["path"])
    assert rerun_dir.parent == tmp_path / "out" and rerun_dir != original.path

    json_path, md_path = write_report(result, rerun_dir)
    saved = json.loads(json_path.read_text())
    assert saved["verdict"] == "reproduced" and saved["comparison"]["moved"] == []
    assert saved["integrity"]["ok"] is True
    text = md_path.read_text()
    assert text.startswith(f"# Reproduction of {original.id}: reproduced")
    assert "| quantization | Q4\\_K\\_M | Q4\\_K\\_M | match |" in text


def test_a_model_that_answers_otherwise_is_not_reproduced(original, tmp_path):
    result = rerun(original, tmp_path / "out", policy=lambda prompt: "D")

    assert result.verdict == "not reproduced"
    assert result.comparison is not None
    head = result.comparison.headline
    assert head.moved and result.reasons[0] == (
        f"headline moved {head.delta_pp:+.1f} pp ({head.a * 100:.1f}% → {head.b * 100:.1f}%), "
        "beyond ±2 pp")
    # subtasks are named only as diagnostics, when their flips are significant
    assert [r.split(" ")[4] for r in result.reasons[1:]] == \
        [d.name for d in result.comparison.significant]
    assert result.comparison.agreeing < 12


def test_another_quantization_is_a_related_benchmark_even_with_identical_answers(original,
                                                                                  tmp_path):
    result = rerun(original, tmp_path / "out", model_file="stub-q8_0.gguf")

    assert result.verdict == "related benchmark"
    assert result.reasons == ("3 of 4 dimensions match",
                              "quantization differs: Q4_K_M ≠ Q8_0")
    assert result.comparison is not None and result.comparison.identical_samples


def test_another_machine_is_verified_on_the_editors_rig(tmp_path):
    """The original ran on a recorded RTX 4090 machine (the real probes reading it); the
    editor's machine is this one: model, quantization and runtime match, the hardware alone
    differs, so a quality row is verified on the editor's rig (REFERENCE §1's VERIFIED)."""
    host, _ = linux_host(tmp_path / "host", nvml=fake_nvml(load_json("nvml/rtx-4090.json")))
    original = make_run(tmp_path / "original", rig=lambda: detect_rig(host))
    result = rerun(original, tmp_path / "out")

    assert result.verdict == "verified on the editor's rig", result.reasons
    assert [d.status for d in result.dimensions] == ["match"] * 3 + ["differs"]
    hardware = result.dimensions[3]
    assert (hardware.status, hardware.original) == ("differs", "rtx-4090")
    assert result.reasons[-1] == (f"only the hardware differs: original rtx-4090, re-run "
                                  f"{hardware.local}")
    assert result.comparison is not None and result.comparison.identical_samples


def test_a_tampered_original_is_invalid_and_nothing_is_run(original, tmp_path):
    data = original.samples.read_bytes()
    original.samples.write_bytes(data.replace(b'"score": 0.0', b'"score": 1.0', 1))

    result = rerun(original, tmp_path / "out")
    assert result.verdict == "invalid"
    assert any("files.samples.jsonl" in reason for reason in result.reasons)
    assert result.reproduction is None and not (tmp_path / "out").exists()


def test_a_limited_run_signed_by_another_operator_reproduces_independently(tmp_path):
    original = make_run(tmp_path / "original", limit=4)
    signing.init_keys(tmp_path / "mine")
    signing.sign_run_if_keyed(original.path, tmp_path / "mine")
    signing.init_keys(tmp_path / "theirs")
    result = rerun(original, tmp_path / "out", keys_dir=tmp_path / "theirs")

    assert result.verdict == "reproduced"
    assert result.comparison is not None and result.comparison.compared == 4
    rerun_dir = Path(result.reproduction["path"])
    record = rundir.read_json(rerun_dir / rundir.RECORD)
    assert record["results"]["expected_n"] == 4 and "--limit 4" in record["command"]["reproduce"]
    assert result.original["signer"] != result.reproduction["signer"]
    assert result.independent is True
    signature = signing.read_signature(rerun_dir / signing.SIGNATURE)
    assert signature is not None and signing.check_signature(record, signature).valid


def test_an_original_run_at_concurrency_4_is_refused_not_copied(tmp_path):
    original = make_run(tmp_path / "original", limit=4, concurrency=4)
    with pytest.raises(ConfigError) as err:
        rerun(original, tmp_path / "out")
    assert err.value.message == (
        f"{original.id} is not reproduced: 4 requests were in flight at once (--concurrency 4):"
        " batching changes results")
    assert "--config leaderboard" in (err.value.hint or "")
    assert not (tmp_path / "out").exists()  # nothing was re-run
