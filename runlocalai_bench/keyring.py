"""The keyring of known operators: who holds which signing key, and the hardware they own.

    <data home>/keys/keyring.json   (or a file the leaderboard publishes, given with --keyring)

    {"format": "rla-keyring/1",
     "operators": [{"handle": "alice", "public_key": "<base64 of the raw ed25519 key>",
                    "key_id": "ed25519:…", "hardware": ["rtx-4090"]}, …]}

Anyone can mint a key, so a signature alone says only "the same key signed both"; the keyring is
the editor's statement of which keys belong to which operators. A key id is always recomputed
from the public key on reading: an entry whose key_id does not match is refused, as is a key
listed twice. The types are ladder.Operator and ladder.Keyring.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from pathlib import Path
from typing import Any

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.ladder import Keyring, Operator
from runlocalai_bench.results import rundir
from runlocalai_bench.signing import ALGORITHM, key_id_of

KEYRING = "keyring.json"
FORMAT = "rla-keyring/1"


def operator_of(handle: str, public_key: str, hardware: tuple[str, ...] = ()) -> Operator:
    """An entry from a handle and a public key given as `rla keys show` prints it
    (`ed25519 <base64> <key id>`) or as the base64 alone."""
    parts = public_key.split()
    if len(parts) == 3 and parts[0] == ALGORITHM:
        text, claimed = parts[1], parts[2]
    elif len(parts) == 1:
        text, claimed = parts[0], None
    else:
        raise ConfigError(f"{public_key!r} is not an ed25519 public key",
                          hint="pass the line `rla keys show` prints on the operator's machine")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"{text!r} is not the base64 of a 32-byte ed25519 public key",
                          hint="pass the line `rla keys show` prints on the operator's machine")
    key_id = key_id_of(raw)
    if claimed is not None and claimed != key_id:
        raise ConfigError(f"the key id {claimed} is not the id of that public key ({key_id})",
                          hint="copy the whole line `rla keys show` prints, unchanged")
    if not handle.strip():
        raise ConfigError("an operator needs a handle", hint="their GitHub handle or email")
    return Operator(handle.strip(), key_id, text, tuple(hardware))


def read_keyring(path: Path) -> Keyring:
    """The keyring at `path`; an empty one when the file does not exist."""
    if not path.is_file():
        return Keyring()
    data = rundir.read_json(path)
    try:
        if data["format"] != FORMAT:
            raise ValueError(data["format"])
        operators = []
        for entry in data["operators"]:
            hardware = tuple(str(h) for h in entry.get("hardware") or ())
            operator = operator_of(str(entry["handle"]), str(entry["public_key"]), hardware)
            if entry.get("key_id") not in (None, operator.key_id):
                raise ValueError(f"{entry['handle']}: key_id {entry['key_id']} is not the id "
                                 f"of its public key")
            operators.append(operator)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path} is not an rla keyring ({FORMAT}): {exc}",
                          hint="rebuild it with `rla keys trust`") from exc
    ids = [o.key_id for o in operators]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ConfigError(f"{path} lists {', '.join(twice)} more than once",
                          hint="a key belongs to one operator: remove the other entries")
    return Keyring(tuple(operators))


def to_json(keyring: Keyring) -> dict[str, Any]:
    return {"format": FORMAT, "operators": [
        {"handle": o.handle, "public_key": o.public_key, "key_id": o.key_id,
         "hardware": list(o.hardware)} for o in keyring.operators]}


def trust(keyring: Keyring, operator: Operator) -> Keyring:
    """The keyring with `operator` added, or its entry replaced (same key): the new handle, and
    the hardware of both entries."""
    old = keyring.by_key(operator.key_id)
    if old is None:
        return Keyring((*keyring.operators, operator))
    hardware = tuple(dict.fromkeys((*old.hardware, *operator.hardware)))
    merged = replace(operator, hardware=hardware)
    return Keyring(tuple(merged if o.key_id == operator.key_id else o
                         for o in keyring.operators))


def write_keyring(path: Path, keyring: Keyring) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rundir.write_json_atomic(path, to_json(keyring))
