"""What several commands share: the settings they take from the environment (read here, at the
edge, and passed on as values), finding a run or a submission, and the options that mean the
same in every command that has them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from runlocalai_bench import paths
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.publish.gist import DEFAULT_API_URL
from runlocalai_bench.results.store import RunIndex
from runlocalai_bench.review.source import Source, is_url, open_source

GITHUB_API_URL_ENV = "RLA_GITHUB_API_URL"
LEADERBOARD_URL_ENV = "RLA_LEADERBOARD_URL"

# -- settings from the environment -------------------------------------------------------------


def data_home() -> Path:
    """Runs, the run index and keys: $RLA_HOME, else the platform's user data directory."""
    return paths.data_home(os.environ)


def keyring_path(flag: Path | None) -> Path:
    """The keyring of known operators: --keyring, else keys/keyring.json in the data home."""
    from runlocalai_bench.keyring import KEYRING
    from runlocalai_bench.signing import keys_dir

    return flag.expanduser() if flag else keys_dir(data_home()) / KEYRING


KeyringFile = Annotated[Path | None, typer.Option(
    "--keyring", help="The keyring of known operators (default: keyring.json beside your key).")]


def cache_home() -> Path:
    """Downloads, assembled models and reference outputs: $RLA_CACHE_DIR, else ~/.cache/rla."""
    return paths.cache_home(os.environ)


def github_api_url(flag: str | None) -> str:
    return flag or os.environ.get(GITHUB_API_URL_ENV) or DEFAULT_API_URL


def github_read_token() -> str | None:
    """A token for reading Gists, when there is one (public Gists need none)."""
    return os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN") or None


def leaderboard_url(flag: str | None) -> str:
    url = flag or os.environ.get(LEADERBOARD_URL_ENV)
    if not url:
        raise ConfigError("no leaderboard API URL",
                          hint=f"pass --api-url URL or set {LEADERBOARD_URL_ENV}")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--api-url {url!r} is not an http(s) URL",
                          hint="for example --api-url https://leaderboard.example/api")
    return url


def output_dir(flag: Path | None) -> Path:
    """Where a run goes: --output-dir, else $RLA_OUTPUT_DIR, else <data home>/runs."""
    return (flag or Path(os.environ.get("RLA_OUTPUT_DIR") or data_home() / "runs")).expanduser()


# -- runs and submissions ----------------------------------------------------------------------


def run_index() -> RunIndex:
    return RunIndex(data_home() / "runs.sqlite")


def resolve_run(ref: str) -> Path:
    """A run directory given as a path, a run id or a unique id prefix."""
    path = Path(ref).expanduser()
    return path if path.is_dir() else Path(run_index().get(ref).path)


@contextmanager
def open_submission(ref: str, github_api_url_flag: str | None) -> Iterator[Source]:
    """A record file, run directory, run id (or id prefix) or Gist URL, as files on disk."""
    if not is_url(ref) and not Path(ref).expanduser().exists():
        ref = run_index().get(ref).path
    with open_source(ref, api_url=github_api_url(github_api_url_flag),
                     token=github_read_token()) as source:
        yield source


def one_endpoint(given: list[str] | None, command: str, hint: str) -> str | None:
    """A one-server command's --endpoint (a list: a second is refused, not swapped in)."""
    if given and len(given) > 1:
        raise ConfigError(f"{command} takes one --endpoint, not {len(given)}", hint=hint)
    return given[0] if given else None


# -- options shared by several commands --------------------------------------------------------

Endpoint = Annotated[list[str] | None, typer.Option("--endpoint", help="The server's URL.")]
Endpoints = Annotated[list[str] | None, typer.Option(
    "--endpoint", help="OpenAI-compatible server URL. Repeat it for replicas of one model on"
    " one kind of rig: each is probed and must match the first, and each item goes to whichever"
    " is free (--concurrency requests in flight per endpoint).")]
Model = Annotated[str | None,
                  typer.Option("--model", help="Model name as the server lists it.")]
ModelPath = Annotated[Path | None,
                      typer.Option("--model-path", help="GGUF file to run in process.")]
Hardware = Annotated[str | None, typer.Option(
    "--hardware", help="The serving machine's hardware slug (hardware/, e.g. rtx-4090), when"
    " the endpoint is another machine: its hardware is then declared, not detected.")]
DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Local copy of the dataset in its original layout.")]
Timeout = Annotated[float | None, typer.Option(
    "--timeout", help="Seconds one answer may take (default 600: a big model on CPU can take"
    " minutes per HumanEval+ completion). However long, a scored run stops, resumable, once"
    " requests have failed 10 times in a row or for `rla bench --give-up-after` seconds.")]
GiveUpAfter = Annotated[float | None, typer.Option(
    "--give-up-after", help="Seconds requests may go on failing in a row, from the first"
    " failed one's start, before the run stops, resumable (default 300; a failed request"
    " alone never stops it, so with --timeout above this, two timeouts do).")]
GithubApiUrl = Annotated[str | None, typer.Option(
    "--github-api-url", help=f"GitHub API base URL (env {GITHUB_API_URL_ENV}).")]

# `rla bench SLUG` and `rla bench speed` alike.
OutputDir = Annotated[Path | None,
                      typer.Option("--output-dir", help="Where run directories go.")]
Concurrency = Annotated[int | None,
                        typer.Option("--concurrency", help="Requests in flight (servers).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Seed sent with every request.")]
NCtx = Annotated[int | None, typer.Option("--n-ctx", help="Context size for in-process runs.")]
NThreads = Annotated[int | None,
                     typer.Option("--n-threads", help="Threads for in-process runs.")]
Retries = Annotated[int | None, typer.Option(
    "--retries", help="Retries on connection errors, timeouts, 5xx, 429 and answers that are"
    " not a completion (default 4).")]
RunId = Annotated[str | None, typer.Option(
    "--run-id", help="Name the run, or pick the run to resume.")]
Preset = Annotated[str | None, typer.Option(
    "--config", help="A preset from configs/ or a TOML file.")]
JsonResults = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")]
Profile = Annotated[str | None, typer.Option(
    "--profile", help="speed only: standard or pp512-tg128 (tasks/speed.toml).")]
NPredict = Annotated[int | None,
                     typer.Option("--n-predict", help="speed only: tokens to generate.")]
SpeedPrompt = Annotated[str | None, typer.Option(
    "--prompt", help="speed only: replace the standard prompt (the record says so).")]
Publish = Annotated[bool, typer.Option(
    "--publish", help="Then publish the run as a Gist (see `rla publish`).")]
Submit = Annotated[bool, typer.Option(
    "--submit", help="Then publish it and submit it to the leaderboard (see `rla submit`; "
    "asks for consent).")]
Yes = Annotated[bool, typer.Option(
    "--yes", help="With --submit: consent without a prompt (no terminal needed).")]
