"""Publishing and submitting a run, as `rla publish`, `rla submit` and `rla bench --publish
/ --submit` do it: settings and tokens from the environment, the library call, what is read."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import (
    data_home,
    github_api_url,
    github_read_token,
    leaderboard_url,
    resolve_run,
    run_index,
)
from runlocalai_bench.errors import ConfigError, PublishError
from runlocalai_bench.publish.auth import github_token, leaderboard_token
from runlocalai_bench.publish.flow import Submission, prepare_submission, submit_prepared
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.publish.leaderboard import DRY_RUN, LeaderboardClient
from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.redact import redact
from runlocalai_bench.results import rundir
from runlocalai_bench.results.record import load_record


def publish_run(ref: str, github_api_url_flag: str | None, *, data_out: bool = True) -> str:
    """Publish; the URL is the data (stdout) unless `data_out` is False (bench --json)."""
    from runlocalai_bench.publish.flow import publish_run as publish

    run_path = resolve_run(ref)
    load_record(rundir.RunDir(run_path).record)  # a clear error before asking for a token
    token = github_token(os.environ)
    err = ui.stderr_console()
    with GistClient(token, api_url=github_api_url(github_api_url_flag)) as client:
        # The token may come from `gh`, outside the environment redact() scans: check for it.
        done = publish(run_path, client, secrets=(token,), index=run_index())
    out = ui.stdout_console() if data_out else err
    if done.already:
        err.print(f"already published and verified: {done.url}", markup=False)
    else:
        for note in done.omitted:
            err.print(f"note: {note}", markup=False)
        err.print(f"published {len(done.files)} files, each read back and verified by sha256",
                  markup=False)
    out.print(done.url, markup=False, highlight=False)
    record = load_record(rundir.RunDir(run_path).record)
    verdict = check_gate(record, run_path, publishable_specs())
    if not verdict.ok:
        err.print("note: the leaderboard's trust gate would refuse this run:", markup=False)
        for reason in verdict.reasons:
            err.print(f"  - {reason}", markup=False)
    return done.url


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
        f"to          {redact(api_url)}",
    ]


def submit_run(ref: str, *, api_url: str | None, yes: bool, dry_run: bool,
               handle: str | None, notes: str | None, server_check: bool = False,
               data_out: bool = True, github_api_url_flag: str | None = None) -> None:
    if server_check and not dry_run:
        raise ConfigError("--server-check goes with --dry-run",
                          hint="rla submit RUN_DIR --dry-run --server-check")
    run_path = resolve_run(ref)
    with GistClient(github_read_token(),
                    api_url=github_api_url(github_api_url_flag)) as gist:
        sub = prepare_submission(run_path, handle=handle, notes=notes,
                                 publishable=publishable_specs(), gist=gist)
    err = ui.stderr_console()
    out = ui.stdout_console() if data_out else err
    if dry_run:
        verdict = sub.verdict.as_dict()
        checked_at = None
        if server_check:
            with LeaderboardClient(leaderboard_url(api_url),
                                   leaderboard_token(os.environ)) as client:
                remote = client.dry_run(sub.payload, sub.key)
                checked_at = client.api_url + DRY_RUN
            verdict["server"] = {"valid": remote.valid, "errors": list(remote.errors)}
        out.print(json.dumps({"gate": verdict, "idempotency_key": sub.key,
                              "payload": sub.payload}, indent=2, ensure_ascii=False),
                  markup=False, highlight=False, soft_wrap=True)
        if not sub.verdict.ok:
            _refuse(sub, dry_run_at=checked_at)
        return
    if not sub.verdict.ok:
        _refuse(sub)
    resolved_url = leaderboard_url(api_url)
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


def _refuse(sub: Submission, *, dry_run_at: str | None = None) -> None:
    """The gate's reasons, then an error saying what was sent where (nothing, or the dry run)."""
    console = ui.stderr_console()
    console.print("the trust gate refused this run:", markup=False)
    for reason in sub.verdict.reasons:
        console.print(f"  - {reason}", markup=False, highlight=False)
    sent = ("nothing was sent" if dry_run_at is None else
            f"the payload was sent only to the dry-run endpoint {redact(dry_run_at)}, which"
            " validates and stores nothing; nothing was submitted")
    raise PublishError(f"the trust gate refused this run ({len(sub.verdict.reasons)} reasons);"
                       f" {sent}", hint="fix each reason listed above")


def after_run(run_path: Path, *, publish: bool, submit: bool, json_output: bool,
              yes: bool = False) -> None:
    """The end of `rla bench`: sign the record when the operator has a key (report.html
    follows), then publish and submit when asked (with --json, stdout stays the results')."""
    from runlocalai_bench.report import refresh_run_report
    from runlocalai_bench.signing import keys_dir, sign_run_if_keyed

    target = ui.stderr_console() if json_output else ui.stdout_console()
    signature = sign_run_if_keyed(run_path, keys_dir(data_home()))
    if signature is not None:
        refresh_run_report(run_path)
        target.print(f"record signed by key {signature.key_id}", highlight=False, markup=False)
    if publish or submit:
        publish_run(str(run_path), None, data_out=not json_output)
        if submit:
            submit_run(str(run_path), api_url=None, yes=yes, dry_run=False,
                       handle=None, notes=None, data_out=not json_output)
