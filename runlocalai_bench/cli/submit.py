"""`rla submit RUN_DIR`: the trust gate, then (with consent) the run to the leaderboard."""

from __future__ import annotations

import json
import os
import sys

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli.publish import resolve_run, run_index
from runlocalai_bench.errors import ConfigError, PublishError
from runlocalai_bench.publish.auth import leaderboard_token
from runlocalai_bench.publish.flow import Submission, prepare_submission, submit_prepared
from runlocalai_bench.publish.leaderboard import LeaderboardClient
from runlocalai_bench.publish.trust import publishable_specs

API_URL_ENV = "RLA_LEADERBOARD_URL"


def _summary(sub: Submission, api_url: str) -> list[str]:
    p = sub.payload
    if p["kind"] == "speed":
        s, decode = p["speed"], p["speed"]["decode_tps"]
        headline = (f"benchmark   {p['benchmark']['slug']} ({s['profile']})  decode"
                    f" {decode['median']:.1f} tok/s ({len(s['runs'])} runs,"
                    f" spread {s['spread']:.1%})")
    else:
        headline = (f"benchmark   {p['benchmark']['slug']}  {p['score']['value'] * 100:.2f}%"
                    f"  (n={p['score']['n']}, {len(p['subtasks'])} subtasks)")
    return [
        headline,
        f"model       {p['model']['slug']} {p['model']['quantization']}",
        f"rig         {p['rig']}",
        f"log         {p['evidence']['test_run_log_url']}",
        f"reproduce   {p['reproduction']['command']}",
        f"submitter   {p['submitter']['handle'] or 'anonymous'}",
        f"notes       {p['notes'] or '(none)'}",
        f"to          {api_url}",
    ]


def submit_command(ref: str, *, api_url: str | None, yes: bool, dry_run: bool,
                   handle: str | None, notes: str | None, server_check: bool = False,
                   data_out: bool = True) -> None:
    if server_check and not dry_run:
        raise ConfigError("--server-check goes with --dry-run",
                          hint="rla submit RUN_DIR --dry-run --server-check")
    run_path = resolve_run(ref)
    sub = prepare_submission(run_path, handle=handle, notes=notes,
                             publishable=publishable_specs())
    err = ui.stderr_console()
    out = ui.stdout_console() if data_out else err
    if dry_run:
        verdict = sub.verdict.as_dict()
        if server_check:
            with _client(api_url) as client:
                remote = client.dry_run(sub.payload, sub.key)
            verdict["server"] = {"valid": remote.valid, "errors": list(remote.errors)}
        out.print(json.dumps({"gate": verdict, "idempotency_key": sub.key,
                              "payload": sub.payload}, indent=2, ensure_ascii=False),
                  markup=False, highlight=False, soft_wrap=True)
        if not sub.verdict.ok:
            _refuse(sub)
        return
    if not sub.verdict.ok:
        _refuse(sub)
    resolved_url = _api_url(api_url)
    token = leaderboard_token(os.environ)  # both settled before asking for consent
    for line in _summary(sub, resolved_url):
        err.print(line, markup=False, highlight=False)
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError("refusing to submit without consent: there is no terminal to ask",
                              hint="pass --yes to consent, or --dry-run to see the exact payload")
        if not typer.confirm("Submit this run to the leaderboard?", default=False, err=True):
            raise PublishError("not submitted", hint="nothing was sent")
    with LeaderboardClient(resolved_url, token) as client:
        receipt = submit_prepared(sub, client, index=run_index())
    state = "already submitted as" if receipt.duplicate else "submitted as"
    err.print(f"{state} {receipt.id} (status {receipt.status})", markup=False)
    out.print(receipt.id, markup=False, highlight=False)


def _refuse(sub: Submission) -> None:
    console = ui.stderr_console()
    console.print("the trust gate refused this run:", markup=False)
    for reason in sub.verdict.reasons:
        console.print(f"  - {reason}", markup=False, highlight=False)
    raise PublishError(f"the trust gate refused this run ({len(sub.verdict.reasons)} reasons);"
                       " nothing was sent", hint="fix each reason listed above")


def _api_url(flag: str | None) -> str:
    url = flag or os.environ.get(API_URL_ENV)
    if not url:
        raise ConfigError("no leaderboard API URL",
                          hint=f"pass --api-url URL or set {API_URL_ENV}")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--api-url {url!r} is not an http(s) URL",
                          hint="for example --api-url https://leaderboard.example/api")
    return url


def _client(flag: str | None) -> LeaderboardClient:
    return LeaderboardClient(_api_url(flag), leaderboard_token(os.environ))


def submit(
    run: str = typer.Argument(..., help="Run directory, run id or id prefix."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Print the exact payload and the gate's verdict; send "
                                 "nothing."),
    server_check: bool = typer.Option(False, "--server-check",
                                      help="With --dry-run: also ask the API's dry-run endpoint, "
                                      "which validates and stores nothing."),
    api_url: str = typer.Option(None, "--api-url",
                                help=f"Leaderboard API base URL (env {API_URL_ENV})."),
    yes: bool = typer.Option(False, "--yes", help="Consent without a prompt (no TTY needed)."),
    handle: str = typer.Option(None, "--handle", help="Your handle; anonymous without it."),
    notes: str = typer.Option(None, "--notes",
                              help="Plain-text notes (markup and scripts are stripped)."),
) -> None:
    """Check a published run against the leaderboard's trust gate and submit it."""
    submit_command(run, api_url=api_url, yes=yes, dry_run=dry_run, handle=handle, notes=notes,
                   server_check=server_check)
