"""Operator keys and record signatures, with the real ed25519 of `cryptography`."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from runlocalai_bench.editor import keys
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results import rundir


def test_init_writes_a_private_key_only_its_owner_can_read(tmp_path):
    public = keys.init_keys(tmp_path / "keys")

    private = tmp_path / "keys" / keys.PRIVATE_KEY
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert (tmp_path / "keys" / keys.PUBLIC_KEY).read_text().split() == [
        "ed25519", public.text, public.key_id]
    loaded = keys.load_private_key(tmp_path / "keys")
    assert loaded is not None and keys.public_key_of(loaded) == public
    assert len(public.raw) == 32 and public.key_id.startswith("ed25519:")


def test_init_refuses_to_replace_a_key_unless_forced(tmp_path):
    first = keys.init_keys(tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        keys.init_keys(tmp_path)
    second = keys.init_keys(tmp_path, force=True)
    assert second.key_id != first.key_id


def test_a_key_others_can_read_is_refused(tmp_path):
    keys.init_keys(tmp_path)
    os.chmod(tmp_path / keys.PRIVATE_KEY, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        keys.load_private_key(tmp_path)


def test_no_key_means_no_signature(tmp_path, original):
    assert keys.sign_run_if_keyed(original.path, tmp_path / "no-keys") is None
    assert not (original.path / keys.SIGNATURE).exists()


def _signed(tmp_path, run):
    keys.init_keys(tmp_path / "keys")
    signature = keys.sign_run_if_keyed(run.path, tmp_path / "keys")
    assert signature is not None
    record = rundir.read_json(run.record)
    return record, keys.read_signature(run.path / keys.SIGNATURE)


def test_a_signed_record_checks_and_any_signed_change_breaks_it(tmp_path, original):
    record, signature = _signed(tmp_path, original)
    assert keys.check_signature(record, signature).valid

    for path, value in ((("results", "score"), 0.99), (("model", "quantization"), "Q8_0"),
                        (("hardware", "hardware_slug"), "rtx-4090"), (("run_id",), "other")):
        edited = json.loads(json.dumps(record))
        node = edited
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        check = keys.check_signature(edited, signature)
        assert not check.valid and "changed after it was signed" in (check.problem or ""), path


def test_fields_filled_after_the_run_are_outside_the_signature(tmp_path, original):
    record, signature = _signed(tmp_path, original)
    record.update(test_run_log_url="https://gist.github.com/u/0123456789abcdef",
                  gist={"id": "0123456789abcdef"}, submitter="someone", notes="hello")
    assert keys.check_signature(record, signature).valid


def test_a_forged_signature_is_caught_even_with_a_matching_hash(tmp_path, original):
    record, signature = _signed(tmp_path, original)
    other = keys.init_keys(tmp_path / "other")
    # Someone else's public key with the original signature: the key id no longer fits...
    swapped = keys.Signature(**{**signature.__dict__, "public_key": other.text})
    assert "key_id" in (keys.check_signature(record, swapped).problem or "")
    # ...and with its own id, the signature does not verify under that key.
    forged = keys.Signature(**{**signature.__dict__, "public_key": other.text,
                               "key_id": other.key_id})
    assert keys.check_signature(record, forged).problem == \
        "the signature does not match record.json's signed content"
    flipped = bytearray(base64.b64decode(signature.signature))
    flipped[0] ^= 1
    tampered = keys.Signature(**{**signature.__dict__,
                                 "signature": base64.b64encode(bytes(flipped)).decode()})
    assert not keys.check_signature(record, tampered).valid


def test_canonical_form_ignores_formatting_not_content():
    a = {"b": 1, "a": [1.5, "é"], "notes": "x"}
    b = {"a": [1.5, "é"], "b": 1, "notes": "different"}
    assert keys.canonical_record(a) == keys.canonical_record(b) == '{"a":[1.5,"é"],"b":1}'.encode()
