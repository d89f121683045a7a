"""Where a submission under review comes from: a record file, a run directory, or a public Gist.

A Gist is read as documented (docs.github.com/rest/gists/gists, API version 2022-11-28):

    GET {api}/gists/{gist_id}
      200  {"id", "html_url", "files": {name: {"filename", "raw_url", "size", "truncated"}}}
      404  no such Gist (or a secret one)
      403 / 429  a rate limit (60 requests an hour without a token)

and each run file is fetched whole from its `raw_url` through the publishing Gist client. The
files land in a scratch directory laid out as a run directory, so everything downstream reads a
Gist exactly like a local run. Only rla's own file names are written; anything else in the Gist
(its README.md) is left out.

A speed run's record lists each run's own log (`runs/run-1.log` …); the Gist holds it under
`gist_name(path)` (`runs-run-1.log`, GitHub refuses '/' in names). Once record.json is read,
each listed log is fetched back to its path in the run directory. A listed path that is not
run.log or `runs/<name>.log` is never written (a hostile record cannot reach outside the
scratch directory); verify names it as a file a run does not write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import urlparse

import httpx

from runlocalai_bench import __version__, jsonio
from runlocalai_bench.errors import ConfigError, PublishError, RlaError
from runlocalai_bench.publish.gist import API_VERSION, GistClient, gist_name
from runlocalai_bench.results import rundir
from runlocalai_bench.results.runlog import is_speed_run_log
from runlocalai_bench.signing import SIGNATURE

RUN_FILES = (rundir.RECORD, rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS, SIGNATURE)
# Gist ids are hexadecimal: 20 or 32 digits today, and short decimal numbers on the oldest Gists.
_GIST_ID = re.compile(r"^[0-9a-fA-F]{1,64}$")


@dataclass(frozen=True)
class Source:
    """A submission as files on disk. `missing` names run files the origin did not provide."""

    run: rundir.RunDir
    record_path: Path
    origin: str
    missing: tuple[str, ...] = ()


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def gist_id_from_url(url: str) -> str:
    """`https://gist.github.com/<user>/<id>` (or `/<id>`, `.git`, `#file-…`) → `<id>`: the last
    path segment, whatever the user's name."""
    parts = [p for p in urlparse(url).path.split("/") if p]
    candidate = parts[-1].removesuffix(".git") if parts else ""
    if not _GIST_ID.match(candidate):
        raise ConfigError(f"{url} is not a Gist URL", hint="pass the Gist's address, e.g. "
                          "https://gist.github.com/<user>/<id>, a run directory or a record file")
    return candidate


def local_source(path: Path) -> Source:
    """A run directory, or a record file with the run's other files beside it."""
    if path.is_dir():
        run = rundir.RunDir(path)
        if not run.record.is_file():
            raise ConfigError(f"{path} has no {rundir.RECORD}",
                              hint="pass the directory of a finished run, or its record file")
        return Source(run=run, record_path=run.record, origin=str(path))
    if path.is_file():
        return Source(run=rundir.RunDir(path.parent), record_path=path, origin=str(path))
    raise ConfigError(f"{path} does not exist",
                      hint="pass a record file, a run directory, a run id or a Gist URL")


def is_run_log(name: str) -> bool:
    """run.log or a speed run's `runs/<name>.log`: the only listed paths rla writes or reads."""
    return name == rundir.RUN_LOG or is_speed_run_log(name)


def listed_run_logs(record_path: Path) -> list[str]:
    """The `runs/<name>.log` paths record.json lists in `files`; [] when it cannot be read (verify
    reports that), and never a path outside the run directory."""
    try:
        record = rundir.read_json(record_path)
    except RlaError:
        return []
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict):
        return []
    return [str(name) for name in files
            if str(name) != rundir.RUN_LOG and is_run_log(str(name))]


def download_gist(url: str, dest: Path, *, api_url: str, token: str | None = None,
                  timeout: float = 60.0) -> Source:
    """Fetch a Gist's run files into `dest` and describe them as a Source: rla's own files,
    then each run log record.json lists (a speed run), from its flat Gist name."""
    gist_id = gist_id_from_url(url)
    files = _gist_files(gist_id, api_url=api_url, token=token, timeout=timeout)
    if rundir.RECORD not in files:
        raise PublishError(f"the Gist {url} holds no {rundir.RECORD}",
                           hint="is this the Gist `rla publish` made for the run?")
    dest.mkdir(parents=True, exist_ok=True)
    missing = [name for name in RUN_FILES if name not in files]
    with GistClient(token or "", api_url=api_url, timeout=timeout) as client:
        for name in RUN_FILES:
            if name in files:
                (dest / name).write_bytes(client.fetch_raw(files[name]))
        for path in listed_run_logs(dest / rundir.RECORD):
            if gist_name(path) not in files:
                missing.append(path)
                continue
            (dest / path).parent.mkdir(exist_ok=True)
            (dest / path).write_bytes(client.fetch_raw(files[gist_name(path)]))
    run = rundir.RunDir(dest)
    return Source(run=run, record_path=run.record, origin=url, missing=tuple(missing))


def _gist_files(gist_id: str, *, api_url: str, token: str | None,
                timeout: float) -> dict[str, str]:
    """name → raw_url of the Gist's files."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
               "User-Agent": f"rla/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{api_url.rstrip('/')}/gists/{gist_id}"
    try:
        with httpx.Client(timeout=timeout, headers=headers) as http:
            response = http.get(url)
    except httpx.TransportError as exc:
        raise PublishError(f"cannot reach the GitHub API at {api_url}: {exc}",
                           hint="check the network, or --github-api-url") from exc
    if response.status_code == 404:
        raise PublishError(f"GitHub has no public Gist {gist_id}",
                           hint="check the URL; secret Gists need their owner's token")
    if response.status_code in (403, 429):
        raise PublishError(f"GitHub refused to read Gist {gist_id} ({response.status_code}),"
                           " probably a rate limit",
                           hint="wait an hour, or export GH_TOKEN to read with a token")
    if response.status_code != 200:
        raise PublishError(f"unexpected answer from GitHub for Gist {gist_id}: "
                           f"{response.status_code}", hint="check --github-api-url")
    try:
        body: Any = jsonio.loads(response.content, f"GitHub's answer for Gist {gist_id}")
        return {str(name): str(entry["raw_url"]) for name, entry in body["files"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise PublishError(f"GitHub's answer for Gist {gist_id} lacks its files",
                           hint="check --github-api-url") from exc


@contextmanager
def open_source(ref: str, *, api_url: str, token: str | None = None) -> Iterator[Source]:
    """A local path as it is, or a Gist downloaded into a scratch directory for the duration."""
    if not is_url(ref):
        yield local_source(Path(ref).expanduser())
        return
    with TemporaryDirectory(prefix="rla-gist-") as scratch:
        yield download_gist(ref, Path(scratch) / gist_id_from_url(ref), api_url=api_url,
                            token=token)
