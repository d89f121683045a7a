"""`rla verify`'s checks on the evidence itself: which items the samples cover (against the item
set of the data this rla's own spec pins, datasets/coverage.py), and samples.jsonl rebuilt from
the compact parts a Gist holds when the file was too large (results/compact.py)."""

from __future__ import annotations

from pathlib import Path

from runlocalai_bench import specs
from runlocalai_bench.datasets import coverage
from runlocalai_bench.errors import ConfigError, DataError, RecordError
from runlocalai_bench.results import compact, rundir
from runlocalai_bench.results.recordtypes import Record, Scored
from runlocalai_bench.results.sampleline import read_sample_lines
from runlocalai_bench.review.findings import Finding, Status
from runlocalai_bench.review.rescore import rebuild_samples
from runlocalai_bench.review.source import Source


def check_coverage(source: Source, record: Record, scored: Scored) -> list[Finding]:
    slug, file = record.benchmark.slug, rundir.SAMPLES
    try:
        spec = specs.load_spec("tasks", slug)
    except ConfigError:
        return [Finding("coverage", "skipped", f"this rla has no tasks/{slug}.toml: no pinned"
                        " item set to compare the samples with", rundir.RECORD, "benchmark.slug")]
    claims_full = not scored.results.partial and scored.dataset.source != "bundled"
    status: Status = "failed" if claims_full else "skipped"
    expected = coverage.pinned_item_set(spec, scored.dataset.content_sha256)
    if isinstance(expected, str):
        return [Finding("coverage", status, expected, rundir.RECORD, "dataset.content_sha256")]
    if not source.run.samples.is_file():
        return [Finding("coverage", "skipped", "no samples.jsonl to check the items of", file,
                        needed=True)]
    reasons = coverage.coverage_reasons([coverage.Sampled(line.id, line.subtask) for line in
                                         read_sample_lines(source.run.samples)], expected)
    if not reasons:
        return [Finding("coverage", "ok", f"the samples are exactly the {expected.n} item ids"
                        f" of {slug}'s pinned data")]
    if not claims_full:  # a slice that says so is consistent; the trust gate refuses it
        reasons = [f"a slice, as the record says: {reasons[0]}"]
    return [Finding("coverage", status, reason, file, "id") for reason in reasons]


def check_compact(source: Source, record: Record, data_dir: Path | None,
                  cache_dir: Path | None = None) -> list[Finding]:
    """samples.jsonl rebuilt from a Gist's compact parts (every prompt from the data, checked
    against its sha256), so the checks after this one read it like any run's; nothing when the
    run has samples.jsonl or no parts."""
    run = source.run
    parts = compact.part_names(p.name for p in run.path.iterdir())
    if run.samples.is_file() or not parts:
        return []
    try:
        problems = rebuild_samples(run, record, data_dir=data_dir, cache_dir=cache_dir)
    except DataError as exc:
        return [Finding("files", "skipped", f"samples.jsonl is published in compact form"
                        f" ({len(parts)} part(s), prompts as sha256) and the data to rebuild it"
                        f" is not here: {exc.message}", rundir.SAMPLES,
                        hint="pass --data-dir with the pinned data", needed=True)]
    except RecordError as exc:  # parts missing, not base64 or gzip, or expanding too far
        return [Finding("files", "failed", f"the compact parts cannot be read: {exc.message}",
                        parts[0], hint=exc.hint)]
    out = [Finding("files", "failed", p, rundir.SAMPLES, "prompt_sha256") for p in problems[:20]]
    if len(problems) > 20:
        out.append(Finding("files", "failed", f"… and {len(problems) - 20} more samples",
                           rundir.SAMPLES))
    return out or [Finding("files", "ok", f"samples.jsonl rebuilt from {len(parts)} compact"
                           " part(s): every prompt rebuilt from the pinned data matches its"
                           " sha256")]
