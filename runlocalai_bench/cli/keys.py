"""`rla keys init | show | sign | trust | list`: the operator's signing key, signed records, and
the keyring of known operators an editor keeps."""

from __future__ import annotations

from pathlib import Path

import typer

from runlocalai_bench import signing, ui
from runlocalai_bench.cli._common import KeyringFile, data_home, keyring_path

app = typer.Typer(help="Your operator key: sign run records so reproductions can tell "
                  "operators apart.", no_args_is_help=True)


@app.command("init")
def init(
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
    handle: str = typer.Option(None, "--handle", help="Your handle (GitHub or email), signed "
                               "with every record so who ran it cannot be changed later."),
) -> None:
    """Create an ed25519 keypair in rla's data directory (private key mode 0600)."""
    from runlocalai_bench.publish.flow import check_handle

    directory = signing.keys_dir(data_home())
    public = signing.init_keys(directory, force=force, handle=check_handle(handle))
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
    """Sign a run's record.json; the signature goes to record.sig beside it (and report.html
    says so, where the run has one)."""
    from runlocalai_bench.report import refresh_run_report

    directory = signing.keys_dir(data_home())
    key = signing.require_private_key(directory)
    signature = signing.sign_run(run.expanduser(), key, signing.load_handle(directory))
    refresh_run_report(run.expanduser())
    signer = signature.key_id + (f" as {signature.handle}" if signature.handle else "")
    ui.stdout_console().print(f"signed {run / signing.SIGNATURE} with {signer}",
                              markup=False, highlight=False)


@app.command("trust")
def trust(
    handle: str = typer.Argument(..., help="The operator's handle (GitHub or email)."),
    public_key: str = typer.Argument(..., help="Their key as `rla keys show` prints it, "
                                     "quoted, or its base64 alone."),
    hardware: list[str] = typer.Option([], "--hardware", help="A hardware slug they own "
                                       "(repeatable)."),
    keyring: KeyringFile = None,
) -> None:
    """Add an operator's key to your keyring (or update its handle and hardware): reproductions
    it signs count toward a row's trust (`rla ladder`)."""
    from runlocalai_bench import keyring as ring

    path = keyring_path(keyring)
    operator = ring.operator_of(handle, public_key, tuple(hardware))
    updated = ring.trust(ring.read_keyring(path), operator)
    ring.write_keyring(path, updated)
    entry = updated.by_key(operator.key_id)
    assert entry is not None
    owned = ", ".join(entry.hardware) or "any hardware"
    ui.stdout_console().print(f"trusted {entry.key_id} as {entry.handle} ({owned}) in {path}",
                              markup=False, highlight=False)


@app.command("list")
def list_keys(
    keyring: KeyringFile = None,
    json_output: bool = typer.Option(False, "--json", help="Print the keyring as JSON."),
) -> None:
    """The operators in your keyring: handle, key id, the hardware they own."""
    from rich.table import Table

    from runlocalai_bench import keyring as ring
    from runlocalai_bench.cli.render import print_json

    path = keyring_path(keyring)
    known = ring.read_keyring(path)
    out = ui.stdout_console()
    if json_output:
        print_json(out, ring.to_json(known))
        return
    if not known.operators:
        out.print(f"no operators in {path}; add one with `rla keys trust`", markup=False,
                  highlight=False)
        return
    table = Table("handle", "key id", "hardware")
    for o in known.operators:
        table.add_row(o.handle, o.key_id, ", ".join(o.hardware) or "any")
    out.print(table)
