"""`rla reproduce --queue FILE` against one served model: the first record re-run tells what is
served, a record of another quantization is skipped and named, a second run of the queue
resumes (nothing runs twice), and the summary gives record, verdict, delta and report."""

from __future__ import annotations

import json

from tests.review.conftest import copy_run, stub_server
from tests.support.cli import assert_user_error, rla


def test_a_queue_runs_skips_and_resumes(original, tmp_path):
    other = copy_run(original, tmp_path / "q8")
    record = json.loads(other.record.read_text())
    record["model"]["quantization"] = "Q8_0"
    other.record.write_text(json.dumps(record, indent=2), encoding="utf-8")
    again = copy_run(original, tmp_path / "again")
    queue = tmp_path / "queue.txt"
    queue.write_text(f"# to reproduce\n{original.path}\n\n{other.record}\n{again.path}\n",
                     encoding="utf-8")
    out_dir = tmp_path / "out"
    with stub_server() as server:
        code, out, err = rla("reproduce", "--queue", str(queue), "--endpoint", server.url,
                             "--model", "stub", "--output-dir", str(out_dir), "--json")
    assert code == 1, err  # one record was skipped
    outcomes = json.loads(out)
    assert [(o["record"], o["verdict"]) for o in outcomes] == [
        (str(original.path), "reproduced"), (str(other.record), "skipped"),
        (str(again.path), "reproduced")]
    assert outcomes[0]["delta"] == "+0.0 pp"
    assert outcomes[0]["report"].endswith("reproduction.json")
    assert outcomes[1]["why"] == ("not the served model: quantization differs: Q8_0 ≠ Q4_K_M")
    reruns = sorted(p.name for p in out_dir.iterdir() if p.is_dir())
    assert len(reruns) == 2
    state = json.loads((tmp_path / "queue.txt.state.json").read_text())
    assert sorted(state["done"]) == sorted(str(p) for p in (original.path, other.record,
                                                            again.path))

    # resumed: nothing is run again, and no server is needed
    code, out, _ = rla("reproduce", "--queue", str(queue), "--output-dir", str(out_dir))
    assert code == 1
    assert sorted(p.name for p in out_dir.iterdir() if p.is_dir()) == reruns
    assert "queue: 3 records" in out and "skipped" in out


def test_a_record_and_a_queue_together_is_a_user_error(original, tmp_path):
    assert_user_error(rla("reproduce", str(original.path), "--queue", str(tmp_path / "q")),
                      "give one record, or --queue FILE")
    (tmp_path / "empty").write_text("# nothing\n", encoding="utf-8")
    assert_user_error(rla("reproduce", "--queue", str(tmp_path / "empty")), "lists no records")
