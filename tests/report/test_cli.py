"""`rla report` through the entry point: the file it writes, Gist URLs, and the inputs it
refuses with `error:` + `hint:`."""

from __future__ import annotations

from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from tests.report.conftest import Page, page_of
from tests.review.conftest import copy_run, publish
from tests.support.cli import assert_user_error, rla


def test_report_writes_one_file_and_prints_its_path(mmlu, tmp_path):
    out = tmp_path / "out" / "mmlu.html"
    code, stdout, stderr = rla("report", str(mmlu.path), "-o", str(out))
    assert code == 0, stderr
    assert stdout.strip() == f"report: {out}"
    page = Page(out.read_text())
    ((_, attrs, _),) = page.find(id="headline")
    assert attrs["data-value"] == f"{load_record(mmlu.record).body.results.score:.4f}"
    # a record file names the same run
    again = tmp_path / "again.html"
    assert rla("report", str(mmlu.record), "-o", str(again)).returncode == 0
    assert Page(again.read_text()).data() == page.data()


def test_a_gist_url_is_reported_like_its_run(mmlu, github, tmp_path):
    url = publish(mmlu, github)
    out = tmp_path / "gist.html"
    code, _, stderr = rla("report", url, "-o", str(out), "--github-api-url", github.url)
    assert code == 0, stderr
    page = Page(out.read_text())
    assert len(page.data()["runs"][0]) == 114
    notices = [text for _, _, text in page.by_class("notice")]
    assert [n for n in notices if "A partial run" not in n  # a sample of MMLU
            and "needs JavaScript" not in n] == []  # in <noscript>
    card = {a["data-field"]: "".join(text) for _, a, text in page.elements
            if a.get("data-field")}
    assert url.rsplit("/", 1)[-1] in card["gist"]


def test_a_gist_with_incomplete_evidence_says_so(selfcheck, github, tmp_path):
    run = copy_run(selfcheck, tmp_path / "run")
    url = publish(run, github)
    del github.gists[url.rsplit("/", 1)[-1]]["samples.jsonl"]
    out = tmp_path / "gist.html"
    code, _, stderr = rla("report", url, "-o", str(out), "--github-api-url", github.url)
    assert code == 0, stderr
    page = Page(out.read_text())
    notices = " ".join(text for _, _, text in page.by_class("notice"))
    assert "evidence is incomplete: it lacks samples.jsonl" in notices
    assert "no samples.jsonl" in notices
    assert not page.find(id="samples")


def test_runs_of_different_benchmarks_are_not_compared(mmlu, selfcheck, tmp_path):
    out = tmp_path / "both.html"
    ran = rla("report", str(mmlu.path), str(selfcheck.path), "-o", str(out))
    assert_user_error(ran, "cannot compare runs of different benchmarks: mmlu, selfcheck")
    assert not out.exists()


def test_a_missing_run_is_a_user_error(tmp_path):
    assert_user_error(rla("report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.html")))
    assert rla("report").returncode == 2  # a usage error, as typer reports them


def test_every_finished_run_has_its_report_and_rla_bench_prints_its_path(tmp_path):
    from tests.review.conftest import alternating, stub_server

    out = tmp_path / "runs"
    with stub_server(alternating) as server:
        code, stdout, stderr = rla("bench", "selfcheck", "--endpoint", server.url,
                                   "--output-dir", str(out))
    assert code == 0, stderr
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    assert f"report: {run / 'report.html'}" in stdout.splitlines()
    page = Page((run / "report.html").read_text())
    assert page.data() == Page(page_of(run)).data()
    ((_, attrs, _),) = page.find(id="headline")
    assert attrs["data-value"] == f"{load_record(run / 'record.json').body.results.score:.4f}"


def test_a_speed_run_has_its_report(speed, serving, gpu_rig):
    from tests.support.streaming import StreamingLlamaServer

    run = speed(serving(StreamingLlamaServer(decode_tps=lambda n: 400.0)).url, gpu_rig).run
    page = Page((run.path / "report.html").read_text())
    assert len(page.by_class("measured-run")) == 3 and page.find(id="ceiling-share")


def compact_gist(run, github) -> str:
    """`run` published with samples.jsonl in compact parts (each prompt as its sha256)."""
    from runlocalai_bench.publish.flow import publish_run
    from runlocalai_bench.publish.gist import GistClient
    from tests.publish.fakes import VALID_TOKEN

    limit = 1 + max((run.path / name).stat().st_size
                    for name in ("run.log", "record.json", "results.json"))
    assert run.samples.stat().st_size > limit
    with GistClient(VALID_TOKEN, api_url=github.url) as client:
        url = publish_run(run.path, client, max_bytes=limit).url
    assert "samples.jsonl" not in github.gists[url.rsplit("/", 1)[-1]]
    return url


def test_a_gists_compact_samples_are_rebuilt_from_the_pinned_data(selfcheck, github, tmp_path):
    run = copy_run(selfcheck, tmp_path / "run")
    url = compact_gist(run, github)
    out = tmp_path / "gist.html"
    code, _, stderr = rla("report", url, "-o", str(out), "--github-api-url", github.url)
    assert code == 0, stderr
    assert Page(out.read_text()).data()["runs"] == Page(page_of(run.path)).data()["runs"]


def test_compact_samples_without_their_data_are_not_shown(tmp_path, github):
    from tests.report.conftest import bench, by_length
    from tests.support.data import benchmark_data

    data = benchmark_data("mmlu") / "mmlu"
    run = bench("mmlu", tmp_path / "runs", by_length, data_dir=data, limit=8)
    url = compact_gist(run, github)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "gist.html"
    code, _, stderr = rla("report", url, "-o", str(out), "--github-api-url", github.url,
                          "--data-dir", str(tmp_path / "empty"))
    assert code == 0, stderr
    page = Page(out.read_text())
    notices = " ".join(text for _, _, text in page.by_class("notice"))
    assert "compact form" in notices and "pass --data-dir with the pinned data" in notices
    assert not page.find(id="samples") and page.find(id="headline")
    # with the data where the run read it, the prompts rebuild
    code, _, stderr = rla("report", url, "-o", str(out), "--github-api-url", github.url)
    assert code == 0, stderr
    assert len(Page(out.read_text()).data()["runs"][0]) == 8


def test_a_merged_run_has_its_report(tmp_path):
    from tests.review.conftest import alternating, stub_server

    shards = []
    with stub_server(alternating) as server:
        for i in range(2):
            out = tmp_path / f"s{i}"
            ran = rla("bench", "selfcheck", "--endpoint", server.url, "--output-dir", str(out),
                      "--shard", f"{i}/2")
            assert ran.returncode == 0, ran.stderr
            shards += [str(p) for p in out.iterdir() if p.is_dir()]
    merged = tmp_path / "merged"
    code, stdout, stderr = rla("merge", *shards, "-o", str(merged))
    assert code == 0, stderr
    assert f"report: {merged / 'report.html'}" in stdout.splitlines()
    page = Page((merged / "report.html").read_text())
    assert len(page.data()["runs"][0]) == 12
    assert page.data() == Page(page_of(merged)).data()


def test_the_runs_report_follows_its_record_when_signed_and_published(github, tmp_path):
    from tests.review.conftest import alternating, publish, stub_server

    def card(run) -> dict[str, str]:
        page = Page((run / "report.html").read_text())
        return {a["data-field"]: "".join(text) for _, a, text in page.elements
                if a.get("data-field")}

    code, out, _ = rla("keys", "init")
    assert code == 0
    key_id = out.split()[-1]
    with stub_server(alternating) as server:
        code, _, stderr = rla("bench", "selfcheck", "--endpoint", server.url,
                              "--output-dir", str(tmp_path / "runs"))
    assert code == 0, stderr
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert card(run)["signature"] == f"signaturevalid ({key_id})"
    assert card(run)["gist"] == "Gist—"
    url = publish(rundir.RunDir(run), github)
    assert card(run)["gist"] == f"Gist{url}"
    assert "test_run_log_url is not set" not in card(run)["gate"]
