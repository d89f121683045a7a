"""The trust ladder on records signed by different keys: each reproduction's record is signed
with a real ed25519 key and its signature checked, and the ladder reads the checked signer."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runlocalai_bench import signing
from runlocalai_bench.ladder import (
    COMMUNITY,
    FIRST_PARTY,
    INDEPENDENT,
    REJECTED,
    RELATED_STATE,
    REPRODUCED,
    SUBMITTED,
    VERIFIED,
    Keyring,
    Operator,
    Rerun,
    Signed,
    ladder_state,
)

SUBMITTER, ALICE, BOB, STRANGER = (Ed25519PrivateKey.generate() for _ in range(4))


def operator(handle: str, key: Ed25519PrivateKey, *hardware: str) -> Operator:
    public = signing.public_key_of(key)
    return Operator(handle, public.key_id, public.text, tuple(hardware))


KEYRING = Keyring((operator("alice", ALICE, "rtx-4090", "rtx-3090"),
                   operator("bob", BOB)))


def signed(label: str, key: Ed25519PrivateKey | None, hardware: str = "rtx-4090",
           handle: str | None = None) -> Signed:
    record = {"run_id": label, "hardware": {"hardware_slug": hardware}, "submitter": handle}
    if key is None:
        return Signed(label, None, hardware, handle)
    check = signing.check_signature(record, signing.sign_record(record, key))
    assert check.valid
    return Signed(label, check.key_id, hardware, handle)


ORIGINAL = signed("original", SUBMITTER, handle="sam")


def rerun(label: str, key: Ed25519PrivateKey | None, verdict: str = "reproduced",
          hardware: str = "rtx-4090", summary: str = "") -> Rerun:
    return Rerun(signed(label, key, hardware), verdict, summary)


def reasons(state) -> dict[str, str]:
    return {j.rerun.record.label: j.reason for j in state.judged}


def test_the_submitter_reproducing_their_own_row_does_not_count():
    state = ladder_state("speed", ORIGINAL, [rerun("own", SUBMITTER)], KEYRING)
    assert state.state == SUBMITTED
    assert state.counted == ()
    assert "same key as the original" in reasons(state)["own"]
    assert state.confidence == "low"


def test_the_submitter_under_another_key_is_known_by_handle():
    keyring = Keyring((*KEYRING.operators, operator("Sam", STRANGER)))
    state = ladder_state("quality", ORIGINAL, [rerun("own", STRANGER)], keyring)
    assert state.state == COMMUNITY
    assert reasons(state)["own"] == "the submitter (Sam) reproducing their own row"


def test_the_submitter_under_a_new_key_is_known_by_the_signed_handle():
    renamed = Rerun(Signed("new-key", signing.public_key_of(STRANGER).key_id, "rtx-4090",
                           handle="SAM"), "reproduced")
    state = ladder_state("speed", ORIGINAL, [renamed], KEYRING)
    assert state.state == SUBMITTED
    assert reasons(state)["new-key"] == ("the submitter (SAM, the handle both signatures carry) "
                                         "reproducing their own row")


def test_two_operators_independently_reproduce_a_speed_row():
    state = ladder_state("speed", ORIGINAL, [rerun("a", ALICE, summary="decode +3.0%"),
                                             rerun("b", BOB)], KEYRING)
    assert state.state == INDEPENDENT
    assert [j.operator for j in state.counted] == ["alice", "bob"]
    assert reasons(state)["a"] == "reproduced by alice: decode +3.0%"
    assert state.reasons == ("reproduced by 2 operators (alice, bob), the submitter not among "
                             "them",)
    assert state.confidence == "high"


def test_one_operator_twice_on_one_machine_counts_once():
    state = ladder_state("speed", ORIGINAL, [rerun("a1", ALICE), rerun("a2", ALICE)], KEYRING)
    assert state.state == REPRODUCED
    assert len(state.counted) == 1
    assert "alice already counted on rtx-4090" in reasons(state)["a2"]
    assert state.confidence == "moderate"


def test_four_reproductions_across_distinct_hardware_are_very_high_confidence():
    carol, dave = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keyring = Keyring((*KEYRING.operators, operator("carol", carol), operator("dave", dave)))
    reruns = [rerun("a", ALICE), rerun("b", BOB), rerun("c", carol), rerun("d", dave)]
    state = ladder_state("speed", ORIGINAL, reruns, keyring)
    assert (state.state, state.confidence) == (INDEPENDENT, "very-high")
    # the same operator on a second machine of their own counts toward very-high, not toward
    # the number of operators
    state = ladder_state("speed", ORIGINAL, [rerun("a", ALICE), rerun("a'", ALICE,
                                                                      hardware="rtx-3090")],
                         KEYRING)
    assert (state.state, state.confidence, len(state.counted)) == (REPRODUCED, "moderate", 2)


def test_one_outside_tolerance_does_not_count_and_the_other_verifies():
    state = ladder_state("quality", ORIGINAL,
                         [rerun("a", ALICE, "not reproduced", summary="headline -2.1 pp"),
                          rerun("b", BOB, "verified on the editor's rig", hardware="h100")],
                         KEYRING)
    assert state.state == VERIFIED
    assert reasons(state)["a"] == "outside tolerance: headline -2.1 pp"
    assert [j.rerun.record.label for j in state.counted] == ["b"]
    assert state.confidence is None


def test_every_operator_outside_tolerance_rejects_the_row():
    state = ladder_state("quality", ORIGINAL,
                         [rerun("a", ALICE, "not reproduced", summary="headline -4.0 pp")],
                         KEYRING)
    assert state.state == REJECTED
    assert state.reasons == ("alice's re-run landed outside tolerance: headline -4.0 pp",)


def test_an_unsigned_reproduction_and_an_unknown_key_do_not_count():
    state = ladder_state("quality", ORIGINAL, [rerun("u", None), rerun("s", STRANGER)],
                         KEYRING)
    assert state.state == COMMUNITY
    assert reasons(state)["u"] == "unsigned: nothing shows who ran it"
    assert reasons(state)["s"].startswith(f"unknown key {signing.public_key_of(STRANGER).key_id}")


def test_an_invalid_signature_does_not_count():
    bad = Rerun(Signed("t", signing.public_key_of(ALICE).key_id, "rtx-4090",
                       signature_problem="record.json changed after it was signed"), "reproduced")
    state = ladder_state("quality", ORIGINAL, [bad], KEYRING)
    assert state.state == COMMUNITY
    assert reasons(state)["t"] == ("its signature is invalid: record.json changed after it was "
                                   "signed")


def test_hardware_the_operator_is_not_known_to_own_does_not_count():
    state = ladder_state("quality", ORIGINAL, [rerun("a", ALICE, hardware="h100")], KEYRING)
    assert state.state == COMMUNITY
    assert "alice is not known to own (rtx-4090, rtx-3090)" in reasons(state)["a"]


def test_related_reruns_make_a_related_row_and_operator_rows_are_first_party():
    state = ladder_state("speed", ORIGINAL, [rerun("a", ALICE, "related benchmark")], KEYRING)
    assert state.state == RELATED_STATE
    own = signed("original", ALICE)
    assert ladder_state("quality", own, [], KEYRING).state == FIRST_PARTY


@pytest.mark.parametrize("kind", ["quality", "speed"])
def test_an_original_that_failed_verification_is_rejected(kind):
    state = ladder_state(kind, ORIGINAL, [rerun("a", ALICE)], KEYRING,
                         original_problems=("files: run.log sha256 differs",))
    assert state.state == REJECTED
    assert state.reasons == ("the original failed verification: files: run.log sha256 "
                             "differs",)
