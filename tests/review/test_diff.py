"""`rla runs diff A B` on run directories, record files and Gist URLs: paired data (McNemar,
bootstrap interval, flips both ways), and "not comparable" when the prompts differ."""

from __future__ import annotations

import json

from runlocalai_bench.results import rundir
from tests.review.conftest import copy_run, publish
from tests.support.cli import rla


def rewrite_samples(run: rundir.RunDir, change) -> None:
    lines = [change(line) for line in rundir.read_samples(run.samples)]
    run.samples.write_text("".join(json.dumps(line) + "\n" for line in lines),
                           encoding="utf-8")


def test_diff_a_record_file_against_a_gist(original, github, tmp_path):
    url = publish(original, github)
    code, out, err = rla("runs", "diff", str(original.record), url,
                         "--github-api-url", github.url, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["comparable"] is True and report["prompts_differ"] == []
    assert report["prompts_sha256"][0] == report["prompts_sha256"][1]
    assert report["samples"] == {"compared": 12, "agreeing": 12, "disagreeing": 0,
                                 "flipped": 0}
    assert report["headline"]["p"] == 1.0 and report["delta_interval_pp"] == [0.0, 0.0]
    assert report["test"] == "McNemar exact, two-sided"


def test_flips_both_ways_with_both_answers(original, tmp_path):
    other = copy_run(original, tmp_path / "other")
    lines = rundir.read_samples(original.samples)
    right = next(line["id"] for line in lines if line["score"] == 1.0)
    wrong = next(line["id"] for line in lines if line["score"] == 0.0)

    def flip(line):
        if line["id"] in (right, wrong):
            return {**line, "score": 1.0 - line["score"], "extracted": "Z"}
        return line

    rewrite_samples(other, flip)
    code, out, err = rla("runs", "diff", str(original.path), str(other.path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert {(f["id"], f["direction"]) for f in report["flips"]} == {(right, "lost"),
                                                                    (wrong, "gained")}
    lost = next(f for f in report["flips"] if f["id"] == right)
    assert lost["a"]["score"] == 1.0 and lost["b"] == {**lost["a"], "score": 0.0,
                                                       "extracted": "Z"}
    assert (report["headline"]["lost"], report["headline"]["gained"]) == (1, 1)
    assert report["headline"]["p"] == 1.0
    code, out, _ = rla("runs", "diff", str(original.path), str(other.path))
    assert code == 0
    assert "McNemar exact, two-sided" in out and "items that flipped" in out
    assert right in out and wrong in out


def test_runs_asked_with_other_prompts_are_not_comparable(original, tmp_path):
    other = copy_run(original, tmp_path / "other")
    first = rundir.read_samples(original.samples)[0]["id"]
    rewrite_samples(other, lambda line: {**line, "prompt": line["prompt"] + " "}
                    if line["id"] == first else line)
    code, out, _ = rla("runs", "diff", str(original.path), str(other.path))
    assert code == 1
    assert out.startswith("not comparable: 1 of 12 shared items were asked with different "
                          "prompts (prompts sha256 ")
    assert f"first {first})" in out
    code, out, _ = rla("runs", "diff", str(original.path), str(other.path), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["comparable"] is False and report["prompts_differ"] == [first]
