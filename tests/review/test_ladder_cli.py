"""`rla keys trust/list` and `rla ladder` on real runs signed by different keys: the submitter
reproducing their own row, two operators, one operator twice, one outside tolerance, an
unsigned one and an unknown key."""

from __future__ import annotations

import json
from pathlib import Path

from runlocalai_bench import signing
from runlocalai_bench.results import rundir
from tests.review.conftest import copy_run
from tests.review.test_speed_editor import server_at
from tests.support.cli import rla


def key(directory: Path) -> str:
    signing.init_keys(directory)
    return signing.public_key_of(signing.require_private_key(directory)).line()


def signed_copy(run: rundir.RunDir, dest: Path, keys: Path | None, *, score_delta: float = 0.0
                ) -> rundir.RunDir:
    copy = copy_run(run, dest)
    (copy.path / signing.SIGNATURE).unlink(missing_ok=True)  # the original's
    if score_delta:
        record = json.loads(copy.record.read_text())
        record["results"]["score"] += score_delta
        copy.record.write_text(json.dumps(record, indent=2), encoding="utf-8")
    if keys is not None:
        signing.sign_run(copy.path, signing.require_private_key(keys))
    return copy


def test_trust_list_and_the_ladder_of_a_quality_row(original, tmp_path):
    submitter, alice, bob, stranger = (tmp_path / name for name in ("sam", "alice", "bob",
                                                                     "stranger"))
    lines = {name: key(path) for name, path in (("sam", submitter), ("alice", alice),
                                                 ("bob", bob), ("stranger", stranger))}
    signing.sign_run(original.path, signing.require_private_key(submitter))
    hardware = json.loads(original.record.read_text())["hardware"]["hardware_slug"]

    code, out, err = rla("keys", "trust", "alice", lines["alice"], "--hardware",
                         hardware)
    assert code == 0, err
    assert out.startswith(f"trusted {lines['alice'].split()[2]} as alice ({hardware})")
    assert rla("keys", "trust", "bob", lines["bob"].split()[1])[0] == 0
    code, out, _ = rla("keys", "list", "--json")
    listed = json.loads(out)["operators"]
    assert [(o["handle"], o["hardware"]) for o in listed] == [("alice", [hardware]),
                                                              ("bob", [])]

    own = signed_copy(original, tmp_path / "own", submitter)
    a1 = signed_copy(original, tmp_path / "a1", alice)
    a2 = signed_copy(original, tmp_path / "a2", alice)
    b_off = signed_copy(original, tmp_path / "b", bob, score_delta=-0.05)
    unsigned = signed_copy(original, tmp_path / "u", None)
    unknown = signed_copy(original, tmp_path / "s", stranger)
    runs = [own, a1, a2, b_off, unsigned, unknown]
    code, out, err = rla("ladder", str(original.path), *(str(r.path) for r in runs),
                         "--json")
    assert code == 0, err
    state = json.loads(out)
    assert (state["kind"], state["state"]) == ("quality", "VERIFIED")
    assert state["reasons"] == ["re-run within tolerance on an operator's own rig by alice"]
    why = {Path(r["label"]).parent.name: (r["counts"], r["verdict"], r["reason"])
           for r in state["reproductions"]}
    assert why["own"][0] is False and "same key as the original" in why["own"][2]
    assert why["a1"] == (True, "reproduced", "reproduced by alice: headline +0.0 pp")
    assert why["a2"][0] is False and "alice already counted" in why["a2"][2]
    assert why["b"] == (False, "not reproduced", "outside tolerance: headline -5.0 pp")
    assert why["u"] == (False, "reproduced", "unsigned: nothing shows who ran it")
    assert why["s"][0] is False and why["s"][2].startswith("unknown key ed25519:")

    code, out, _ = rla("ladder", str(original.path), str(b_off.path))
    assert code == 0
    assert "Rejected" in out and "bob's re-run landed outside tolerance" in out


def test_a_bad_public_key_is_a_user_error():
    code, _, err = rla("keys", "trust", "alice", "ed25519 bm90IGEga2V5 ed25519:00")
    assert code != 0
    assert err.startswith("error: 'bm90IGEga2V5' is not the base64 of a 32-byte ed25519 "
                          "public key")
    assert "hint: " in err and "Traceback" not in err


def test_the_submitter_under_a_new_key_is_known_by_the_handle_signed_with_it(original, tmp_path):
    signing.init_keys(tmp_path / "sam", handle="sam")
    signing.init_keys(tmp_path / "sam-new", handle="sam")
    assert signing.sign_run_if_keyed(original.path, tmp_path / "sam") is not None
    copy = copy_run(original, tmp_path / "again")
    assert signing.sign_run_if_keyed(copy.path, tmp_path / "sam-new") is not None
    new_key = signing.public_key_of(signing.require_private_key(tmp_path / "sam-new")).line()
    # even an editor who trusts the new key under another name is not fooled
    assert rla("keys", "trust", "sammy", new_key)[0] == 0
    code, out, err = rla("ladder", str(original.path), str(copy.path), "--json")
    assert code == 0, err
    state = json.loads(out)
    assert state["state"] == "COMMUNITY"
    assert state["reproductions"][0]["reason"] == (
        "the submitter (sam, the handle both signatures carry) reproducing their own row")


def test_the_ladder_of_a_speed_row(serving, speed, gpu_rig, tmp_path):
    """Real speed runs on one recorded RTX 4090: two operators within ±10% make the row
    independently reproduced (confidence high); a third, 30% slower, is outside tolerance."""
    names = ("sam", "alice", "bob", "carol")
    lines = {name: key(tmp_path / name) for name in names}
    fast = serving(server_at(400.0)).url
    runs = {name: speed(fast, gpu_rig).run for name in names[:3]}
    runs["carol"] = speed(serving(server_at(280.0)).url, gpu_rig).run
    for name, run in runs.items():
        signing.sign_run(run.path, signing.require_private_key(tmp_path / name))
    for name in names[1:]:
        assert rla("keys", "trust", name, lines[name])[0] == 0

    code, out, err = rla("ladder", str(runs["sam"].path),
                         *(str(runs[n].path) for n in names[1:]), "--json")
    assert code == 0, err
    state = json.loads(out)
    assert (state["kind"], state["state"], state["confidence"]) == (
        "speed", "Independently reproduced", "high")
    assert [(r["operator"], r["verdict"], r["counts"]) for r in state["reproductions"]] == [
        ("alice", "reproduced", True), ("bob", "reproduced", True),
        ("carol", "not reproduced", False)]
    assert state["reproductions"][2]["reason"].startswith("outside tolerance: decode ")
