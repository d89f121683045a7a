"""`rla keys init | show | sign`: the operator's signing key and signed records."""

from __future__ import annotations

from pathlib import Path

import typer

from runlocalai_bench import signing, ui
from runlocalai_bench.cli._common import data_home

app = typer.Typer(help="Your operator key: sign run records so reproductions can tell "
                  "operators apart.", no_args_is_help=True)


@app.command("init")
def init(force: bool = typer.Option(False, "--force", help="Replace an existing key.")) -> None:
    """Create an ed25519 keypair in rla's data directory (private key mode 0600)."""
    directory = signing.keys_dir(data_home())
    public = signing.init_keys(directory, force=force)
    ui.stderr_console().print(f"created {directory / signing.PRIVATE_KEY} (keep it private)",
                              markup=False, highlight=False)
    ui.stdout_console().print(public.line(), markup=False, highlight=False)


@app.command("show")
def show() -> None:
    """Print your public key and key id."""
    key = signing.require_private_key(signing.keys_dir(data_home()))
    ui.stdout_console().print(signing.public_key_of(key).line(), markup=False, highlight=False)


@app.command("sign")
def sign(run: Path = typer.Argument(..., help="A finished run's directory.")) -> None:
    """Sign a run's record.json; the signature goes to record.sig beside it."""
    key = signing.require_private_key(signing.keys_dir(data_home()))
    signature = signing.sign_run(run.expanduser(), key)
    ui.stdout_console().print(f"signed {run / signing.SIGNATURE} with {signature.key_id}",
                              markup=False, highlight=False)
