"""`verify` and `reproduce` on speed rows: real `rla bench speed` runs against the streaming
loopback llama-server, on rigs probed from recorded hardware, published to the loopback Gist API
and read back from it. Untouched runs verify; each forgery is named by file and field; a re-run
reproduces within ±10% of the median decode tok/s, and a server 30% slower does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from runlocalai_bench.backends.factory import open_streamer
from runlocalai_bench.config import build_config
from runlocalai_bench.publish.gist import gist_name
from runlocalai_bench.results import rundir
from runlocalai_bench.review.report import write_report
from runlocalai_bench.review.reproduce import Reproduction, Target, reproduce
from runlocalai_bench.review.source import download_gist, local_source, open_source
from runlocalai_bench.review.speed import SPEED_TOLERANCE, SpeedPart, compare_speed
from runlocalai_bench.review.verify import SPEED_CHECKS, VerifyReport, verify_source
from runlocalai_bench.rig import detect_rig
from runlocalai_bench.speed.plausibility import speed_gate
from runlocalai_bench.speed.protocol import Stat, Summary
from runlocalai_bench.speed.render import RichSpeedUI
from runlocalai_bench.speed.runner import run_speed
from runlocalai_bench.speed.spec import load_speed_plan
from runlocalai_bench.types import RigInfo
from tests.review.conftest import failed, failing_verify_in_a_process, publish, verify
from tests.speed.forgery import forge_decode
from tests.support.cli import rla
from tests.support.streaming import StreamingLlamaServer

LOGS = ["runs/warmup-1.log", "runs/run-1.log", "runs/run-2.log", "runs/run-3.log"]


def messages(report: VerifyReport, check: str) -> list[str]:
    return [f.message for f in report.failures if f.check == check]


def server_at(tps: float) -> StreamingLlamaServer:
    return StreamingLlamaServer(decode_tps=lambda n: tps)


@pytest.fixture
def speed_run(serving, speed, gpu_rig) -> rundir.RunDir:
    """A plausible RTX 4090 run: 400 tok/s on a 253 MB model, ceiling 4582 tok/s."""
    outcome = speed(serving(server_at(400.0)).url, gpu_rig)
    assert outcome.refusals == []
    return outcome.run


# -- verify --------------------------------------------------------------------------------


def test_a_speed_run_verifies_from_its_directory(speed_run):
    report = verify(speed_run)

    assert report.ok, report.failures
    assert [f.check for f in report.findings] == list(SPEED_CHECKS)
    statuses = {f.check: f.status for f in report.findings}
    assert statuses == {"schema": "ok", "files": "ok", "speed": "ok", "results": "skipped",
                        "samples": "skipped", "coverage": "skipped", "rescore": "skipped",
                        "log": "ok",
                        "signature": "skipped"}
    by_check = {f.check: f.message for f in report.findings}
    assert by_check["schema"] == "record.json matches schema speed-record-v3"
    assert by_check["files"] == "run.log and 4 run logs match their sha256"
    assert "decode 400.0 tok/s, under the 4582.3 tok/s ceiling" in by_check["speed"]
    assert by_check["samples"] == "a speed run has no scored samples"
    assert "4 run logs hold the raw observations" in by_check["log"]


def test_split_profiles_re_run_sets_and_json_output_verify(serving, speed, gpu_rig, tmp_path):
    """The shapes a genuine run.log and run logs take: pp512-tg128 (a prefill and a decode
    request per run), a speed that re-ran its set (9 runs, the last 3 counted), `--json`."""
    split = speed(serving(server_at(400.0)).url, gpu_rig, profile="pp512-tg128").run
    assert "## prefill request" in (split.path / "runs" / "run-1.log").read_text()
    swings = StreamingLlamaServer(decode_tps=lambda n: 200.0 if n % 2 else 400.0)
    rerun_sets = speed(serving(swings).url, gpu_rig).run
    assert rundir.read_json(rerun_sets.record)["speed"]["attempts"] == 3

    config = build_config("speed", {"endpoint": serving(server_at(400.0)).url,
                                    "output_dir": tmp_path / "json"}, env={})
    console = Console(width=120, no_color=True)
    as_json = run_speed(config, load_speed_plan(None, n_predict=8),
                        RichSpeedUI(console, console, json_output=True),
                        open_streamer=open_streamer, detect_rig=lambda: gpu_rig).run
    assert '"logs_sha256"' in as_json.run_log.read_text()

    for run in (split, rerun_sets, as_json):
        report = verify(run)
        assert report.ok, (run.id, report.failures)
        assert {f.check: f.status for f in report.findings}["log"] == "ok"
    edited = rundir.read_json(split.record)
    edited["speed"]["runs"][0]["raw"]["prefill"]["total_ms"] += 1.0
    rundir.write_json_atomic(split.record, edited)
    assert ("log", "runs/run-1.log", "speed.runs[0].raw.prefill.total_ms") in \
        failed(verify(split))


def test_a_published_speed_run_verifies_from_its_gist(speed_run, github):
    url = publish(speed_run, github)
    gist_id = url.rsplit("/", 1)[-1]
    assert gist_name("runs/run-1.log") in github.gists[gist_id]

    with open_source(url, api_url=github.url) as source:
        report = verify_source(source)
        fetched = sorted(str(p.relative_to(source.run.path))
                         for p in source.run.path.rglob("*") if p.is_file())
        for name in LOGS:
            assert (source.run.path / name).read_bytes() == (speed_run.path / name).read_bytes()
    assert fetched == sorted([rundir.RECORD, rundir.RUN_LOG, *LOGS])
    assert report.ok, report.failures
    assert report.origin == url and report.run_id == speed_run.id


def test_a_gist_without_a_run_log_fails_on_that_file(speed_run, github):
    url = publish(speed_run, github)
    del github.gists[url.rsplit("/", 1)[-1]]["runs-run-2.log"]

    with open_source(url, api_url=github.url) as source:
        report = verify_source(source)
        assert source.missing[-1] == "runs/run-2.log"
    assert ("files", "runs/run-2.log", "files.runs/run-2.log") in failed(report)
    assert f"runs/run-2.log is missing from {url}" in messages(report, "files")


def test_a_gist_record_cannot_write_outside_the_run_directory(speed_run, github,
                                                               tmp_path_factory):
    """A hostile record lists paths that climb out; the Gist even holds them under their flat
    names. Nothing is written outside the scratch directory, and verify names each path."""
    url = publish(speed_run, github)
    stored = github.gists[url.rsplit("/", 1)[-1]]
    record = json.loads(stored[rundir.RECORD])
    for name in ("../../escape.log", "runs/../../escape.log", "/tmp/escape.log"):
        record["files"][name] = "0" * 64
        stored[gist_name(name)] = b"written outside\n"
    stored[rundir.RECORD] = json.dumps(record).encode()

    root = tmp_path_factory.mktemp("scratch")
    source = download_gist(url, root / "a" / "b" / "dest", api_url=github.url)
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert written == sorted(f"a/b/dest/{name}" for name in [rundir.RECORD, rundir.RUN_LOG,
                                                              *LOGS])
    report = verify_source(source)
    for name in ("../../escape.log", "runs/../../escape.log", "/tmp/escape.log"):
        assert ("files", rundir.RECORD, f"files.{name}") in failed(report)
        assert f"record.json lists a file a speed run does not write: {name!r}" in \
            messages(report, "files")


def test_a_record_claiming_decode_above_the_ceiling_is_invalid(speed_run):
    """The forgery of tests/speed: 50,000 tok/s written consistently into every counted run's
    engine timings, arrival times, figures and the summary."""
    record = rundir.read_json(speed_run.record)
    forge_decode(record, 50_000.0)
    rundir.write_json_atomic(speed_run.record, record)

    report = verify(speed_run)
    assert not report.ok
    above = [m for m in messages(report, "speed")
             if "exceeds the memory-bandwidth ceiling" in m]
    assert len(above) == 3, report.failures
    assert above[0].startswith("run-1: decode 50000.0 tok/s (engine) exceeds the "
                               "memory-bandwidth ceiling 4582.3 tok/s")
    # the logs the record's own hashes vouch for say otherwise
    assert ("log", "runs/run-1.log", "speed.runs[0].raw.engine") in failed(report)
    assert ("log", rundir.RUN_LOG, "speed.summary.decode_tps.median") in failed(report)


def test_an_edited_run_log_is_named(speed_run):
    log = speed_run.path / "runs" / "run-2.log"
    log.write_text(log.read_text().replace("400", "900"))

    report = verify(speed_run)
    found = failed(report)
    assert ("files", "runs/run-2.log", "files.runs/run-2.log") in found
    assert ("speed", rundir.RECORD, "speed.logs_sha256") in found
    assert "runs/run-2.log does not hash to the sha256 in record.json (it changed after the " \
           "run)" in messages(report, "files")
    assert any(field and field.startswith("speed.runs[1]") for check, file, field in found
               if check == "log" and file == "runs/run-2.log")


def test_a_forgery_under_the_ceiling_is_caught_by_the_logs(serving, speed, cpu_rig):
    """A CPU rig's ceiling is generous (its class's fastest memory system): a record rewritten
    from 40 to 4,000 tok/s with every figure consistent passes the speed gate. The run logs,
    untouched and hashing as recorded, hold the engine's real timings; only reading them
    against the record exposes it."""
    run = speed(serving(server_at(40.0)).url, cpu_rig).run
    record = rundir.read_json(run.record)
    forge_decode(record, 4000.0)
    rundir.write_json_atomic(run.record, record)
    assert speed_gate(record) == []

    report = verify(run)
    assert {check for check, _, _ in failed(report)} == {"log"}
    found = failed(report)
    for i in range(3):
        assert ("log", f"runs/run-{i + 1}.log", f"speed.runs[{i}].raw.engine") in found
        assert ("log", f"runs/run-{i + 1}.log", f"speed.runs[{i}].metrics.decode_tps") in found
        assert ("log", rundir.RUN_LOG, f"speed.runs.run-{i + 1}.metrics.decode_tps") in found
    assert "the log printed run-1 at 40.0 tok/s, the record says 4000.0" in \
        messages(report, "log")


# -- reproduce -----------------------------------------------------------------------------


def rerun(original: rundir.RunDir, url: str, rig: RigInfo, out: Path) -> Reproduction:
    console = Console(width=120, no_color=True)
    part = SpeedPart(RichSpeedUI(console, console), open_streamer=open_streamer,
                     detect_rig=lambda: rig)
    target = Target(endpoint=url, output_dir=out, env={},
                    argv=("rla", "reproduce", str(original.path)))
    return reproduce(part, local_source(original.path), target,
                     keys_dir=out / "no-keys")


def test_the_same_server_on_the_same_rig_reproduces(speed_run, serving, gpu_rig, tmp_path):
    result = rerun(speed_run, serving(server_at(400.0)).url, gpu_rig, tmp_path / "out")

    assert result.verdict == "reproduced", result.reasons
    assert result.reasons[0] == ("decode 400.0 → 400.0 tok/s (×1.00, +0.0%): within ±10% of "
                                 "the original (REFERENCE §1)")
    assert result.reasons[1].startswith("prefill 10000.0 → 10000.0 tok/s") and \
        result.reasons[1].endswith("(informational)")
    assert result.reasons[2].startswith("TTFT ") and "(informational)" in result.reasons[2]
    assert [d.status for d in result.dimensions] == ["match"] * 4
    assert result.configuration == ()
    assert result.speed is not None and result.speed.decode.ratio == 1.0
    assert result.original["decode_tps"] == result.reproduction["decode_tps"] == 400.0
    rerun_dir = Path(result.reproduction["path"])
    assert rerun_dir.parent == tmp_path / "out" and rerun_dir != speed_run.path

    json_path, md_path = write_report(result, rerun_dir)
    saved = json.loads(json_path.read_text())
    assert saved["verdict"] == "reproduced" and saved["comparison"] is None
    assert saved["speed"]["within"] is True and saved["speed"]["tolerance"] == SPEED_TOLERANCE
    assert saved["speed"]["decode_tps"] == {"unit": "tok/s", "original": 400.0,
                                            "reproduction": 400.0, "ratio": 1.0, "change": 0.0}
    text = md_path.read_text()
    assert text.startswith(f"# Reproduction of {speed_run.id}: reproduced")
    assert "| decode tok/s | 400.0 | 400.0 | ×1.00 | +0.0% | within |" in text
    assert "| prefill tok/s | 10000.0 | 10000.0 | ×1.00 | +0.0% | informational |" in text


def test_a_server_30_percent_slower_is_not_reproduced(speed_run, serving, gpu_rig, tmp_path):
    result = rerun(speed_run, serving(server_at(280.0)).url, gpu_rig, tmp_path / "out")

    assert result.verdict == "not reproduced"
    assert result.reasons[0] == ("decode 400.0 → 280.0 tok/s (×0.70, -30.0%): beyond ±10% of "
                                 "the original (REFERENCE §1)")
    assert result.speed is not None and not result.speed.within
    assert result.speed.decode.ratio == pytest.approx(0.70)
    assert [d.status for d in result.dimensions] == ["match"] * 4


def test_another_machine_is_a_related_benchmark(speed_run, serving, cpu_rig, tmp_path):
    result = rerun(speed_run, serving(server_at(400.0)).url, cpu_rig, tmp_path / "out")

    assert result.verdict == "related benchmark"
    assert result.reasons == ("3 of 4 dimensions match",
                              "hardware differs: DISCRETE_GPU ≠ CPU_ONLY")
    assert [d.name for d in result.dimensions if d.status != "match"] == ["hardware"]


def test_a_fabricated_original_is_invalid_and_not_rerun(speed_run, serving, gpu_rig, tmp_path):
    record = rundir.read_json(speed_run.record)
    record["speed"]["summary"]["decode_tps"]["median"] = 800.0
    rundir.write_json_atomic(speed_run.record, record)
    server = serving(server_at(400.0))

    result = rerun(speed_run, server.url, gpu_rig, tmp_path / "out")
    assert result.verdict == "invalid" and result.reproduction is None
    assert any("summary decode tok/s 800.0 does not follow from the counted runs" in reason
               for reason in result.reasons), result.reasons
    assert not any(seen.path == "/v1/completions" for seen in server.requests)


@pytest.mark.parametrize(("rerun_tps", "within"), [(440.0, True), (360.0, True),
                                                   (441.0, False), (359.0, False)])
def test_the_band_is_ten_percent_either_way(rerun_tps, within):
    def summary(tps: float) -> Summary:
        def stat(median: float | None) -> Stat:
            return Stat(median=median, minimum=median, maximum=median)

        return Summary(runs=3, decode_tps=stat(tps), prefill_tps=stat(None), ttft_ms=stat(5.0),
                       generated_tokens=stat(8.0), prompt_tokens=10, spread=0.0,
                       decode_source="engine", prefill_source=None)

    comparison = compare_speed(summary(400.0), summary(rerun_tps))
    assert comparison.within is within
    assert comparison.prefill.ratio is None and comparison.ttft.ratio == 1.0


# -- the command line ----------------------------------------------------------------------


def test_verify_of_an_edited_speed_run_in_a_real_process(speed_run):
    log = speed_run.path / "runs" / "run-2.log"
    log.write_text(log.read_text().replace("400", "900"))
    rows = failing_verify_in_a_process(speed_run.path)
    assert {("failed", "files", "runs/run-2.log:files.runs/run-2.log"),
            ("failed", "speed", "record.json:speed.logs_sha256"), ("ok", "schema", ""),
            ("skipped", "rescore", "")} <= rows


def test_reproduce_a_speed_row_from_the_command_line(serving, speed, tmp_path):
    url = serving(server_at(35.0)).url
    original = speed(url, detect_rig()).run

    code, out, err = rla("reproduce", str(original.path), "--endpoint", url,
                         "--output-dir", str(tmp_path / "out"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] == "reproduced"
    assert report["speed"]["decode_tps"]["ratio"] == 1.0
    rerun_dir = Path(report["reproduction"]["path"])
    assert json.loads((rerun_dir / "reproduction.json").read_text())["verdict"] == "reproduced"
    assert rundir.read_json(rerun_dir / rundir.RECORD)["speed"]["n_predict"] == 8

    slower = serving(server_at(20.0)).url
    code, out, err = rla("reproduce", str(original.path), "--endpoint", slower,
                         "--output-dir", str(tmp_path / "slower"))
    assert code == 1, err
    assert "verdict: not reproduced" in out
    assert "(×0.57, -42.9%): beyond ±10%" in out


def test_reproduce_refuses_flags_that_mean_nothing_to_a_speed_row(speed_run):
    code, out, err = rla("reproduce", str(speed_run.path), "--tolerance", "5")
    assert code == 2 and out == ""
    assert err.startswith("error: --tolerance does not apply to a speed row")
    assert "hint: drop it" in err and "Traceback" not in err

    code, _, err = rla("reproduce", str(speed_run.path), "--data-dir", "/tmp")
    assert code == 2 and err.startswith("error: --data-dir does not apply to a speed row")


def test_reproduce_against_a_server_that_is_not_there(speed_run, tmp_path):
    code, _, err = rla("reproduce", str(speed_run.path), "--endpoint",
                       "http://127.0.0.1:9", "--output-dir", str(tmp_path / "out"))
    assert code != 0
    assert err.startswith("error: ") and "\nhint: " in err and "Traceback" not in err


# -- a record written before version 3 (no `request`) ------------------------------------------


def test_a_version_2_speed_record_still_verifies_and_reproduces(serving, tmp_path):
    """tests/fixtures/runlog/speed is a speed run as rla wrote it before record version 3: it
    verifies against speed-record-v1, and reproduces from its reproduction command."""
    import shutil

    from runlocalai_bench.results.record import load_record

    original = rundir.RunDir(tmp_path / "v2")
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "runlog" / "speed", original.path)
    code, out, _ = rla("verify", str(original.path), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], report
    assert report["findings"][0]["message"] == "record.json matches schema speed-record-v1"

    record = load_record(original.record)
    assert record.record_version == 2 and record.request is None
    result = rerun(original, serving(server_at(40.0)).url, record.hardware, tmp_path / "out")
    assert result.verdict == "reproduced", result.reasons
    assert result.reproduction is not None
    again = load_record(Path(result.reproduction["path"]) / rundir.RECORD)
    assert again.record_version == 4 and again.request is not None
    assert again.request.speed is not None
    assert again.request.speed.n_predict == record.body.speed.n_predict  # type: ignore[union-attr]
