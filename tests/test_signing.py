"""Operator keys and record signatures, with the real ed25519 of `cryptography`."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from runlocalai_bench import signing
from runlocalai_bench.errors import ConfigError, RlaError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.review.source import local_source
from runlocalai_bench.review.verify import check_signature_file
from tests.review.conftest import copy_run, make_run


@pytest.fixture(scope="module")
def _original(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    return make_run(tmp_path_factory.mktemp("original"))


@pytest.fixture
def original(_original: rundir.RunDir, tmp_path) -> rundir.RunDir:
    """A finished, unsigned 12-question selfcheck run of the alternating stub."""
    return copy_run(_original, tmp_path / "original")


def test_init_writes_a_private_key_only_its_owner_can_read(tmp_path):
    public = signing.init_keys(tmp_path / "keys")

    private = tmp_path / "keys" / signing.PRIVATE_KEY
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert (tmp_path / "keys" / signing.PUBLIC_KEY).read_text().split() == [
        "ed25519", public.text, public.key_id]
    loaded = signing.load_private_key(tmp_path / "keys")
    assert loaded is not None and signing.public_key_of(loaded) == public
    assert len(public.raw) == 32 and public.key_id.startswith("ed25519:")


def test_init_refuses_to_replace_a_key_unless_forced(tmp_path):
    first = signing.init_keys(tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        signing.init_keys(tmp_path)
    second = signing.init_keys(tmp_path, force=True)
    assert second.key_id != first.key_id


def test_a_key_others_can_read_is_refused(tmp_path):
    signing.init_keys(tmp_path)
    os.chmod(tmp_path / signing.PRIVATE_KEY, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        signing.load_private_key(tmp_path)


def test_no_key_means_no_signature(tmp_path, original):
    assert signing.sign_run_if_keyed(original.path, tmp_path / "no-keys") is None
    assert not (original.path / signing.SIGNATURE).exists()


def _signed(tmp_path, run):
    signing.init_keys(tmp_path / "keys")
    signature = signing.sign_run_if_keyed(run.path, tmp_path / "keys")
    assert signature is not None
    record = rundir.read_json(run.record)
    return record, signing.read_signature(run.path / signing.SIGNATURE)


def test_a_signed_record_checks_and_any_signed_change_breaks_it(tmp_path, original):
    record, signature = _signed(tmp_path, original)
    assert signing.check_signature(record, signature).valid

    for path, value in ((("results", "score"), 0.99), (("model", "quantization"), "Q8_0"),
                        (("hardware", "hardware_slug"), "rtx-4090"), (("run_id",), "other")):
        edited = json.loads(json.dumps(record))
        node = edited
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        check = signing.check_signature(edited, signature)
        assert not check.valid and "changed after it was signed" in (check.problem or ""), path


def test_fields_filled_after_the_run_are_outside_the_signature(tmp_path, original):
    record, signature = _signed(tmp_path, original)
    record.update(test_run_log_url="https://gist.github.com/u/0123456789abcdef",
                  gist={"id": "0123456789abcdef"}, submitter="someone", notes="hello")
    assert signing.check_signature(record, signature).valid


def test_a_forged_signature_is_caught_even_with_a_matching_hash(tmp_path, original):
    record, signature = _signed(tmp_path, original)
    other = signing.init_keys(tmp_path / "other")
    # Someone else's public key with the original signature: the key id no longer fits...
    swapped = signing.Signature(**{**signature.__dict__, "public_key": other.text})
    assert "key_id" in (signing.check_signature(record, swapped).problem or "")
    # ...and with its own id, the signature does not verify under that key.
    forged = signing.Signature(**{**signature.__dict__, "public_key": other.text,
                               "key_id": other.key_id})
    assert signing.check_signature(record, forged).problem == \
        "the signature does not match record.json's signed content"
    flipped = bytearray(base64.b64decode(signature.signature))
    flipped[0] ^= 1
    tampered = signing.Signature(**{**signature.__dict__,
                                 "signature": base64.b64encode(bytes(flipped)).decode()})
    assert not signing.check_signature(record, tampered).valid


def test_canonical_form_ignores_formatting_not_content():
    a = {"b": 1, "a": [1.5, "é"], "notes": "x"}
    b = {"a": [1.5, "é"], "b": 1, "notes": "different"}
    assert signing.canonical_record(a) == signing.canonical_record(b) \
        == '{"a":[1.5,"é"],"b":1}'.encode()


def test_a_handle_given_at_init_is_signed_with_every_record(tmp_path, original):
    signing.init_keys(tmp_path / "keys", handle="alice")
    signature = signing.sign_run_if_keyed(original.path, tmp_path / "keys")
    assert signature is not None and signature.handle == "alice"
    on_disk = rundir.read_json(original.path / signing.SIGNATURE)
    assert on_disk["format"] == "rla-record-signature/2" and on_disk["handle"] == "alice"
    record = rundir.read_json(original.record)
    read = signing.read_signature(original.path / signing.SIGNATURE)
    check = signing.check_signature(record, read)
    assert check.valid and check.handle == "alice"
    findings, signer = check_signature_file(local_source(original.path),
                                            load_record(original.record).to_json())
    assert signer == signature.key_id
    assert [f.message for f in findings] == [f"signed by {signature.key_id} as alice"]

    # the handle cannot be changed after the run, nor dropped back to format 1
    for forged in ({**on_disk, "handle": "mallory"},
                   {k: v for k, v in on_disk.items() if k != "handle"}
                   | {"format": "rla-record-signature/1"}):
        (original.path / signing.SIGNATURE).write_text(json.dumps(forged))
        check = signing.check_signature(record, signing.read_signature(
            original.path / signing.SIGNATURE))
        assert not check.valid and "changed after it was signed" in (check.problem or "")
    # a format 2 signature without a handle is not a signature
    (original.path / signing.SIGNATURE).write_text(json.dumps(
        {k: v for k, v in on_disk.items() if k != "handle"}))
    with pytest.raises(RlaError, match="is not an rla record signature"):
        signing.read_signature(original.path / signing.SIGNATURE)


def test_a_key_made_without_a_handle_signs_format_1_as_before(tmp_path, original):
    _, signature = _signed(tmp_path, original)
    assert signature.handle is None
    assert rundir.read_json(original.path / signing.SIGNATURE)["format"] == \
        "rla-record-signature/1"
    assert "handle" not in rundir.read_json(original.path / signing.SIGNATURE)
    signing.init_keys(tmp_path / "keys", force=True)  # re-made without: no stale handle
    assert signing.load_handle(tmp_path / "keys") is None
