"""Operator identity without accounts: an ed25519 keypair per operator, records signed with it.

    <data home>/keys/ed25519.pem   the private key (PKCS#8 PEM, mode 0600, directory 0700)
    <data home>/keys/ed25519.pub   `ed25519 <base64 public key> <key id>`
    <data home>/keys/handle        the operator's handle (GitHub or email), when they gave one
    <run dir>/record.sig           a detached signature of that run's record.json

What is signed is the canonical JSON of record.json (keys sorted, no whitespace, UTF-8) without
the fields filled in after the run: `signature`, and `test_run_log_url`, `gist`, `submitter`,
`notes` (`rla publish` and `rla submit` write those later). The record holds the sha256 of
run.log, samples.jsonl and results.json, so the signature covers those files too.

With a handle (`rla keys init --handle`), record.sig is format 2 and the signature covers the
canonical JSON of `{"handle": …, "record": <the signed record>}`: the handle is inside what is
signed, so who signed cannot be changed after the run (the record's own `submitter`, filled in
by `rla submit`, stays outside). Without one, format 1 signs the record alone, as before.

A key id is `ed25519:` and the first 16 hex digits of the sha256 of the raw public key. Two runs
signed by different key ids were made by different operators: that is what makes a
reproduction independent. The public key travels inside record.sig, so anyone can check a
signature; who holds a key id is learned from the history of what it signed.

`cryptography` is imported lazily so `rla --help` stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlocalai_bench.errors import ConfigError, RunDirError
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_KEY = "ed25519.pem"
PUBLIC_KEY = "ed25519.pub"
SIGNATURE = "record.sig"
SIGNATURE_FORMAT = "rla-record-signature/1"
SIGNATURE_FORMAT_HANDLE = "rla-record-signature/2"  # the signer's handle signed with the record
HANDLE = "handle"
ALGORITHM = "ed25519"
# Filled in after the run by publish and submit, so outside the signature.
UNSIGNED_FIELDS = ("signature", "test_run_log_url", "gist", "submitter", "notes")


def keys_dir(data_home: Path) -> Path:
    """Where the operator's key lives, under rla's data home (the CLI resolves it)."""
    return data_home / "keys"


@dataclass(frozen=True)
class PublicKey:
    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    @property
    def text(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def line(self) -> str:
        return f"{ALGORITHM} {self.text} {self.key_id}"


@dataclass(frozen=True)
class Signature:
    """record.sig: who signed which record content, and the signature itself."""

    key_id: str
    public_key: str  # base64 of the raw 32-byte key
    record_sha256: str  # sha256 of the canonical signed bytes
    signature: str  # base64 of the 64-byte ed25519 signature
    signed_at: str
    algorithm: str = ALGORITHM
    unsigned_fields: tuple[str, ...] = UNSIGNED_FIELDS
    handle: str | None = None  # the signer's handle, signed with the record (format 2)

    def to_json(self) -> dict[str, Any]:
        data = {"format": SIGNATURE_FORMAT if self.handle is None else SIGNATURE_FORMAT_HANDLE,
                "algorithm": self.algorithm, "key_id": self.key_id,
                "public_key": self.public_key, "record_sha256": self.record_sha256,
                "unsigned_fields": list(self.unsigned_fields), "signed_at": self.signed_at,
                "signature": self.signature}
        if self.handle is not None:
            data["handle"] = self.handle
        return data


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking one record against its signature. `key_id` is the signer's
    claimed key id when a signature was found (trustworthy only when `valid`)."""

    valid: bool
    key_id: str | None
    problem: str | None = None
    handle: str | None = None  # the signed handle of a valid format 2 signature


def key_id_of(raw_public_key: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(raw_public_key).hexdigest()[:16]}"


def canonical_record(record: Mapping[str, Any], handle: str | None = None) -> bytes:
    """The bytes a signature covers: the record without its unsigned fields, canonical JSON;
    with a handle, `{"handle": handle, "record": <that>}` in canonical JSON."""
    signed: Any = {k: v for k, v in record.items() if k not in UNSIGNED_FIELDS}
    if handle is not None:
        signed = {"handle": handle, "record": signed}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


# -- the keypair -----------------------------------------------------------------------------


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise ConfigError("signing needs the `cryptography` package",
                          hint="pip install cryptography") from exc
    return ed25519


def init_keys(directory: Path, *, force: bool = False, handle: str | None = None) -> PublicKey:
    """Create a keypair in `directory`, and the operator's handle beside it when given; refuse
    to replace a key unless `force`."""
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    private_path, public_path = directory / PRIVATE_KEY, directory / PUBLIC_KEY
    if private_path.exists() and not force:
        raise ConfigError(f"a key already exists at {private_path}",
                          hint="`rla keys show` prints it; --force replaces it (records it "
                          "signed keep verifying, but reproductions will count as another "
                          "operator's)")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = PublicKey(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw))
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if force:
            private_path.unlink(missing_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        public_path.write_text(public.line() + "\n", encoding="ascii")
        (directory / HANDLE).unlink(missing_ok=True)
        if handle is not None:
            (directory / HANDLE).write_text(handle + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the key to {directory}: {exc.strerror}",
                          hint="check the permissions of rla's data directory") from exc
    return public


def load_private_key(directory: Path) -> Ed25519PrivateKey | None:
    """The operator's private key, or None when `rla keys init` was never run."""
    from cryptography.hazmat.primitives import serialization

    path = directory / PRIVATE_KEY
    if not path.is_file():
        return None
    if sys.platform != "win32" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(f"{path} is readable by other users",
                          hint=f"chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not an unencrypted PKCS#8 private key",
                          hint="create a new one with `rla keys init --force`") from exc
    if not isinstance(key, _crypto().Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an ed25519 key",
                          hint="create a new one with `rla keys init --force`")
    return key


def load_handle(directory: Path) -> str | None:
    """The handle `rla keys init --handle` stored beside the key, or None."""
    path = directory / HANDLE
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def public_key_of(key: Ed25519PrivateKey) -> PublicKey:
    from cryptography.hazmat.primitives import serialization

    return PublicKey(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw))


def require_private_key(directory: Path) -> Ed25519PrivateKey:
    key = load_private_key(directory)
    if key is None:
        raise ConfigError(f"no signing key in {directory}", hint="create one with `rla keys init`")
    return key


# -- signing and checking --------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sign_record(record: Mapping[str, Any], key: Ed25519PrivateKey, *,
                signed_at: str | None = None, handle: str | None = None) -> Signature:
    data = canonical_record(record, handle)
    public = public_key_of(key)
    return Signature(key_id=public.key_id, public_key=public.text,
                     record_sha256=hashlib.sha256(data).hexdigest(),
                     signature=base64.b64encode(key.sign(data)).decode("ascii"),
                     signed_at=signed_at or _now(), handle=handle)


def check_signature(record: Mapping[str, Any], signature: Signature) -> SignatureCheck:
    """Whether `signature` is a valid ed25519 signature of this record's signed content."""
    from cryptography.exceptions import InvalidSignature

    ed25519 = _crypto()

    def bad(problem: str) -> SignatureCheck:
        return SignatureCheck(valid=False, key_id=signature.key_id, problem=problem)

    if signature.algorithm != ALGORITHM:
        return bad(f"algorithm {signature.algorithm!r} is not {ALGORITHM}")
    if tuple(signature.unsigned_fields) != UNSIGNED_FIELDS:
        return bad(f"unsigned_fields {list(signature.unsigned_fields)} differ from rla's "
                   f"{list(UNSIGNED_FIELDS)}")
    try:
        raw_key = base64.b64decode(signature.public_key, validate=True)
        raw_sig = base64.b64decode(signature.signature, validate=True)
        public = ed25519.Ed25519PublicKey.from_public_bytes(raw_key)
    except ValueError:
        return bad("public_key or signature is not valid base64 of an ed25519 value")
    if key_id_of(raw_key) != signature.key_id:
        return bad(f"key_id {signature.key_id} is not the id of its public_key "
                   f"({key_id_of(raw_key)})")
    data = canonical_record(record, signature.handle)
    if hashlib.sha256(data).hexdigest() != signature.record_sha256:
        return bad("record.json changed after it was signed (its signed content no longer "
                   "hashes to record_sha256)")
    try:
        public.verify(raw_sig, data)
    except InvalidSignature:
        return bad("the signature does not match record.json's signed content")
    return SignatureCheck(valid=True, key_id=signature.key_id, handle=signature.handle)


def read_signature(path: Path) -> Signature | None:
    """A record.sig file, or None when there is none; malformed files are an error."""
    if not path.is_file():
        return None
    data = rundir.read_json(path)
    try:
        handle = None
        if data["format"] == SIGNATURE_FORMAT_HANDLE:
            handle = data["handle"]
            if not isinstance(handle, str):
                raise TypeError("handle")
        elif data["format"] != SIGNATURE_FORMAT:
            raise ValueError(data["format"])
        return Signature(key_id=str(data["key_id"]), public_key=str(data["public_key"]),
                         record_sha256=str(data["record_sha256"]),
                         signature=str(data["signature"]), signed_at=str(data["signed_at"]),
                         algorithm=str(data["algorithm"]),
                         unsigned_fields=tuple(str(f) for f in data["unsigned_fields"]),
                         handle=handle)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunDirError(f"{path} is not an rla record signature ({SIGNATURE_FORMAT} or "
                          f"{SIGNATURE_FORMAT_HANDLE})",
                          hint="re-sign the run with `rla keys sign RUN_DIR`") from exc


def sign_run(run_path: Path, key: Ed25519PrivateKey, handle: str | None = None) -> Signature:
    """Sign a finished run's record.json (with the signer's handle, when given) and write
    record.sig beside it."""
    run = rundir.RunDir(run_path)
    if not run.record.is_file():
        raise RunDirError(f"{run_path} has no {rundir.RECORD} to sign",
                          hint="only a finished run can be signed")
    signature = sign_record(load_record(run.record).to_json(), key, handle=handle)
    rundir.write_json_atomic(run.path / SIGNATURE, signature.to_json())
    return signature


def sign_run_if_keyed(run_path: Path, directory: Path | None) -> Signature | None:
    """Sign the run when the operator has a key in `directory` (the end of `rla bench`), with
    the handle stored beside it; None otherwise, and when no key directory is given."""
    key = None if directory is None else load_private_key(directory)
    if key is None or directory is None:
        return None
    return sign_run(run_path, key, load_handle(directory))
