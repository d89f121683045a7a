"""Where a submission under review comes from: a record file, a run directory, or a public Gist.

A Gist's files are listed by publish/gistread.py and each run file is fetched whole from its
`raw_url` through the publishing Gist client. The files land in a scratch directory laid out
as a run directory, so everything downstream reads a Gist exactly like a local run. Only rla's
own file names are written; anything else in the Gist (its README.md) is left out. A Gist
whose samples.jsonl was too large holds it in compact parts (results/compact.py), fetched
beside the other files for `rla verify --data-dir` to rebuild.

A speed run's record lists each run's own log (`runs/run-1.log` …); the Gist holds it under
`gist_name(path)` (`runs-run-1.log`, GitHub refuses '/' in names). Once record.json is read,
each listed log is fetched back to its path in the run directory. A listed path that is not
run.log, `runs/<name>.log` or (a merged run's copy of each shard's run.log, listed the same
way) `shards/shard-<i>.log` is never written (a hostile record cannot reach outside the
scratch directory); verify names it as a file a run does not write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from runlocalai_bench.errors import ConfigError, PublishError, RlaError
from runlocalai_bench.publish.gist import GistClient, gist_name
from runlocalai_bench.publish.gistread import gist_files, gist_id_from_url
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.runlog import is_shard_log, is_speed_run_log
from runlocalai_bench.signing import SIGNATURE

RUN_FILES = (rundir.RECORD, rundir.RUN_LOG, rundir.SAMPLES, rundir.RESULTS, SIGNATURE)


@dataclass(frozen=True)
class Source:
    """A submission as files on disk. `missing` names run files the origin did not provide."""

    run: rundir.RunDir
    record_path: Path
    origin: str
    missing: tuple[str, ...] = ()


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


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
    """run.log, a speed run's `runs/<name>.log` or a merged run's `shards/shard-<i>.log`: the
    only listed paths rla writes or reads."""
    return name == rundir.RUN_LOG or is_speed_run_log(name) or is_shard_log(name)


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
    files = gist_files(gist_id, api_url=api_url, token=token, timeout=timeout)
    if rundir.RECORD not in files:
        raise PublishError(f"the Gist {url} holds no {rundir.RECORD}",
                           hint="is this the Gist `rla publish` made for the run?")
    dest.mkdir(parents=True, exist_ok=True)
    missing = [name for name in RUN_FILES if name not in files]
    with GistClient(token or "", api_url=api_url, timeout=timeout) as client:
        for name in RUN_FILES:
            if name in files:
                (dest / name).write_bytes(client.fetch_raw(files[name]))
        if rundir.SAMPLES not in files:  # every sample, each prompt as its sha256
            for name in compact.part_names(files):
                (dest / name).write_bytes(client.fetch_raw(files[name]))
        for path in listed_run_logs(dest / rundir.RECORD):
            if gist_name(path) not in files:
                missing.append(path)
                continue
            (dest / path).parent.mkdir(exist_ok=True)
            (dest / path).write_bytes(client.fetch_raw(files[gist_name(path)]))
    run = rundir.RunDir(dest)
    return Source(run=run, record_path=run.record, origin=url, missing=tuple(missing))


@contextmanager
def open_source(ref: str, *, api_url: str, token: str | None = None) -> Iterator[Source]:
    """A local path as it is, or a Gist downloaded into a scratch directory for the duration."""
    if not is_url(ref):
        yield local_source(Path(ref).expanduser())
        return
    with TemporaryDirectory(prefix="rla-gist-") as scratch:
        yield download_gist(ref, Path(scratch) / gist_id_from_url(ref), api_url=api_url,
                            token=token)
