"""What a report reads: each run's record, its samples when it has them, and what it cannot show.

A run comes as a run directory, a record file, or a Gist URL (review/source.py downloads the
Gist's run files into a scratch directory for the duration). Nothing is guessed: a scored run
without samples.jsonl, a samples.jsonl that does not hash to the record's `files` entry, a
Gist missing run files each become a notice the page shows, and the samples are then left out
rather than shown wrong. A Gist holding its samples in compact parts (prompts as sha256) has
them rebuilt from the pinned data as `rla verify` does (review/rescore.py), or says why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runlocalai_bench.errors import DataError, RlaError
from runlocalai_bench.publish.trust import GateVerdict, check_gate, publishable_specs
from runlocalai_bench.redact import redact
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Record, Scored
from runlocalai_bench.results.sampleline import SampleLine, iter_sample_lines
from runlocalai_bench.review.rescore import rebuild_samples
from runlocalai_bench.review.source import Source
from runlocalai_bench.signing import SIGNATURE, check_signature, read_signature


@dataclass(frozen=True)
class LoadedRun:
    origin: str  # the path or URL given, redacted (home as ~, no credentials in a URL)
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


def _rebuilt(source: Source, record: Record, data_dir: Path | None,
             cache_dir: Path | None) -> str | None:
    """samples.jsonl rebuilt from a Gist's compact parts (each prompt from the pinned data,
    checked against its sha256), or why it could not be."""
    try:
        problems = rebuild_samples(source.run, record, data_dir=data_dir, cache_dir=cache_dir)
    except DataError as exc:
        return (f"The Gist holds this run's samples in compact form (each prompt as its "
                f"sha256) and the data to rebuild the prompts is not here ({exc.message}): "
                "the sample browser is not shown; pass --data-dir with the pinned data.")
    if problems:
        source.run.samples.unlink()
        return (f"{len(problems)} prompt(s) of the Gist's compact samples do not rebuild from "
                f"the pinned data to their sha256 (first: {problems[0]}): none are shown.")
    return None


def _samples(source: Source, record: Record, data_dir: Path | None, cache_dir: Path | None
             ) -> tuple[tuple[SampleLine, ...] | None, list[str]]:
    """The samples to show, or None with the notice saying why not."""
    if not isinstance(record.body, Scored):
        return None, []
    path = source.run.samples
    if not path.is_file() and compact.part_names(p.name for p in source.run.path.iterdir()):
        why = _rebuilt(source, record, data_dir, cache_dir)
        if why is not None:
            return None, [why]
    if not path.is_file():
        return None, [f"This run has no {rundir.SAMPLES}: the scores below are the record's "
                      "own, and the sample browser and outcome counts cannot be shown."]
    claimed = record.files.get(rundir.SAMPLES)
    if claimed is not None and rundir.sha256_file(path) != claimed:
        return None, [f"{rundir.SAMPLES} does not hash to the sha256 the record states: its "
                      "samples are not the ones scored, so none are shown."]
    # what the page shows and pairs, and the trust gate reads: an answer's top
    # log-probabilities are neither (on full MMLU, most of the memory the lines would take)
    lines = tuple(iter_sample_lines(path, alternatives=False))
    notices = []
    if len(lines) != record.body.results.n:
        notices.append(f"{rundir.SAMPLES} holds {len(lines)} samples, the record scores "
                       f"{record.body.results.n}: the samples shown are incomplete.")
    return lines, notices


def load_source(source: Source, *, data_dir: Path | None = None,
                cache_dir: Path | None = None) -> LoadedRun:
    """`data_dir` and `cache_dir` serve a Gist holding compact samples: their prompts are
    rebuilt from the data, as `rla verify` does."""
    record = load_record(source.record_path)
    notices = []
    missing = [name for name in source.missing if name != SIGNATURE]  # unsigned: on the card
    if missing:
        notices.append(f"The Gist's evidence is incomplete: it lacks {', '.join(missing)}; "
                       "what those files would show is left out.")
    samples, more = _samples(source, record, data_dir, cache_dir)
    try:
        gate = check_gate(record, source.run.path, publishable_specs(), samples)
    except RlaError as exc:
        gate = GateVerdict((f"the trust gate could not be checked: {exc.message}",))
    return LoadedRun(origin=redact(source.origin), record=record, samples=samples,
                     notices=(*notices, *more), gate=gate, signature=_signature(source, record))


def load_path(path: Path) -> LoadedRun:
    """A local run directory or record file."""
    from runlocalai_bench.review.source import local_source

    return load_source(local_source(path))
