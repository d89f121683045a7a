"""`rla reproduce` writes the original-vs-re-run page beside reproduction.json, with the same
paired figures and flips."""

from __future__ import annotations

import json
from pathlib import Path

from tests.report.conftest import Page
from tests.review.conftest import stub_server
from tests.support.cli import rla


def test_reproduce_writes_the_comparison_page_beside_its_report(original, tmp_path):
    with stub_server(lambda prompt: "A", model_file="stub-q5_k_m.gguf") as server:
        code, out, err = rla("reproduce", str(original.path), "--endpoint", server.url,
                             "--model", "stub", "--output-dir", str(tmp_path / "out"), "--json")
    assert code == 1, err  # a related benchmark: another quantization
    result = json.loads(out)
    rerun = Path(result["reproduction"]["path"])
    assert f"report: {rerun / 'reproduction.json'} and reproduction.md, reproduction.html" \
        in err.splitlines()
    page = Page((rerun / "reproduction.html").read_text())
    flips = result["comparison"]["flips"]
    assert flips and {i: bucket for i, (bucket, _) in page.data()["flips"].items()} == {
        f["id"]: "a-only" if f["direction"] == "lost" else "b-only" for f in flips}
    differs = {a["data-field"] for _, a, _ in page.elements
               if a.get("data-field") and "differs" in (a.get("class") or "")}
    assert "quant" in differs and "benchmark" not in differs
    ((_, headline, _),) = page.find(id="headline")
    assert headline["data-value"] == f"{result['comparison']['headline']['a']:.4f}"
    assert not page.find(id="not-comparable")


def test_reproducing_a_speed_row_writes_both_speed_tables(speed, serving, tmp_path):
    from runlocalai_bench.rig import detect_rig
    from tests.support.streaming import StreamingLlamaServer

    url = serving(StreamingLlamaServer(decode_tps=lambda n: 400.0)).url
    original = speed(url, detect_rig()).run
    code, out, err = rla("reproduce", str(original.path), "--endpoint", url, "--output-dir",
                         str(tmp_path / "out"), "--json")
    result = json.loads(out)
    rerun = Path(result["reproduction"]["path"])
    assert code == 0, err
    page = Page((rerun / "reproduction.html").read_text())
    assert len(page.by_class("speed")) == 2 and len(page.by_class("measured-run")) == 6
    notices = " ".join(text for _, _, text in page.by_class("notice"))
    assert "Speed rows have no paired test" in notices
