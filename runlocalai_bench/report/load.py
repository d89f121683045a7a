"""What a report reads: each run's record, its samples when it has them, and what it cannot show.

A run comes as a run directory, a record file, or a Gist URL (review/source.py downloads the
Gist's run files into a scratch directory for the duration). Nothing is guessed: a scored run
without samples.jsonl, a samples.jsonl that does not hash to the record's `files` entry, a
Gist missing run files or holding its samples only in compact parts (prompts as sha256) each
become a notice the page shows, and the samples are then left out rather than shown wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from runlocalai_bench.errors import RlaError
from runlocalai_bench.publish.trust import GateVerdict, check_gate, publishable_specs
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record, Scored
from runlocalai_bench.results.sampleline import SampleLine, read_sample_lines
from runlocalai_bench.review.source import Source, open_source
from runlocalai_bench.signing import SIGNATURE, check_signature, read_signature


@dataclass(frozen=True)
class LoadedRun:
    origin: str  # the path or URL given
    record: Record
    samples: tuple[SampleLine, ...] | None  # None: none to show (see notices)
    notices: tuple[str, ...]
    gate: GateVerdict
    signature: str  # "unsigned", "valid (key …)", "invalid: …"


def _signature(source: Source, record: Record) -> str:
    try:
        signature = read_signature(source.run.path / SIGNATURE)
    except RlaError as exc:
        return f"invalid: {exc.message}"
    if signature is None:
        return "unsigned"
    check = check_signature(record.to_json(), signature)
    if not check.valid:
        return f"invalid: {check.problem}"
    return f"valid ({check.key_id}" + (f", {check.handle})" if check.handle else ")")


def _samples(source: Source, record: Record) -> tuple[tuple[SampleLine, ...] | None, list[str]]:
    """The samples to show, or None with the notice saying why not."""
    if not isinstance(record.body, Scored):
        return None, []
    path = source.run.samples
    if not path.is_file():
        if compact.part_names(p.name for p in source.run.path.iterdir()):
            return None, ["The Gist holds this run's samples in compact form (each prompt as "
                          "its sha256): the sample browser is not shown. `rla verify "
                          "--data-dir` rebuilds the prompts."]
        return None, [f"This run has no {rundir.SAMPLES}: the scores below are the record's "
                      "own, and the sample browser and outcome counts cannot be shown."]
    claimed = record.files.get(rundir.SAMPLES)
    if claimed is not None and rundir.sha256_file(path) != claimed:
        return None, [f"{rundir.SAMPLES} does not hash to the sha256 the record states: its "
                      "samples are not the ones scored, so none are shown."]
    lines = tuple(read_sample_lines(path))
    notices = []
    if len(lines) != record.body.results.n:
        notices.append(f"{rundir.SAMPLES} holds {len(lines)} samples, the record scores "
                       f"{record.body.results.n}: the samples shown are incomplete.")
    return lines, notices


def load_source(source: Source) -> LoadedRun:
    record = load_record(source.record_path)
    notices = []
    missing = [name for name in source.missing if name != SIGNATURE]  # unsigned: on the card
    if missing:
        notices.append(f"The Gist's evidence is incomplete: it lacks {', '.join(missing)}; "
                       "what those files would show is left out.")
    samples, more = _samples(source, record)
    try:
        gate = check_gate(record, source.run.path, publishable_specs())
    except RlaError as exc:
        gate = GateVerdict((f"the trust gate could not be checked: {exc.message}",))
    return LoadedRun(origin=source.origin, record=record, samples=samples,
                     notices=(*notices, *more), gate=gate, signature=_signature(source, record))


@contextmanager
def open_runs(refs: Sequence[str], *, api_url: str, token: str | None = None
              ) -> Iterator[list[LoadedRun]]:
    """Each ref loaded; Gists stay downloaded until the block ends."""
    with ExitStack() as stack:
        yield [load_source(stack.enter_context(open_source(ref, api_url=api_url, token=token)))
               for ref in refs]


def load_path(path: Path) -> LoadedRun:
    """A local run directory or record file."""
    from runlocalai_bench.review.source import local_source

    return load_source(local_source(path))
