"""Issue 12's measures: the Gist's bytes and file count for full MMLU, TurkishMMLU and
HumanEval+ (goal for MMLU: complete per-sample evidence ≤ 10 MB per file), and `rla verify` of
the full MMLU Gist from a loopback Gist API with --data-dir: wall time and peak RSS of that one
child process (goal: under a minute, ≤ 300 MB, with the rescore and every prompt hash checked).

    .venv/bin/python benchmarks/evidence_size.py [--data-dir ../shared/data] [--skip-humaneval]
                                                 [--limit-per-subtask N]

Each run goes against an instant local stub llama-server that answers like a real one would
size it: 20 top log-probabilities per answer (each answer its own tokens and float32 values,
so the gzipped compact form gets no easier a text than a real run's), and for HumanEval+ a
completion of max_tokens (768) tokens, about 4 characters each (the longest a model writes).
Beside the Gist's own figures, the size of each run's samples in compact form (results/
compact.py) in all and per sample. Prints the load average beside the figures and writes
benchmarks/results/evidence_size.json; with --limit-per-subtask (a slice, to check the script)
it writes to the temporary directory instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import measure, rla_argv  # noqa: E402
from runlocalai_bench.publish.flow import gist_bundle, publish_run  # noqa: E402
from runlocalai_bench.publish.gist import GistClient  # noqa: E402
from runlocalai_bench.results import compact, rundir  # noqa: E402
from runlocalai_bench.results.record import load_record  # noqa: E402
from tests.publish.fakes import VALID_TOKEN, FakeGitHub  # noqa: E402
from tests.support.llama_stub import StubLlamaServer  # noqa: E402
from tests.support.servers import Reply, Seen  # noqa: E402

GOAL_RSS_MB, GOAL_WALL_S, LIMIT = 300, 60.0, 10_000_000
LONG_BODY = "    return [x for x in range(10) if x % 2 == 0]  # a line of code\n" * 48


VOCABULARY = [" the", " of", " and", " is", " to", " a", " in", "\n", " The", " it", " that",
              " answer", " not", " be", " option", " (", ":", " all", " none", " correct",
              "A", "B", "C", "D", " A", " B", " C", " D", " I", " 1", " 2", " yes", " no"]


def float32(value: float) -> float:
    """A log-probability as llama-server writes one: a float32 printed as a double."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


class RealSizedStub(StubLlamaServer):
    """The stub's answers with 20 alternatives for the first token, as llama-server gives:
    each answer its own, drawn from a small vocabulary by the prompt, with float32
    log-probabilities (so gzip finds no more repetition in them than in a real run's)."""

    def handle(self, seen: Seen) -> Reply:
        reply = super().handle(seen)
        if isinstance(reply.body, dict) and "choices" in reply.body:
            content = reply.body["choices"][0]["logprobs"]["content"][0]
            rng = random.Random(hashlib.sha256(repr(seen.body).encode()).digest())
            taken = {alt["token"] for alt in content["top_logprobs"]}
            tokens = [t for t in rng.sample(VOCABULARY, 24) if t not in taken][:18]
            logprobs = sorted((-2.6 - rng.expovariate(0.7) for _ in tokens), reverse=True)
            content["top_logprobs"] += [{"token": t, "logprob": float32(lp), "bytes": []}
                                        for t, lp in zip(tokens, logprobs, strict=True)]
        return reply


def bench(slug: str, data: Path, out: Path, policy: Any, *flags: str) -> rundir.RunDir:
    server = RealSizedStub(policy=policy)
    loop = server.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "runlocalai_bench", "bench", slug, "--endpoint", loop.url,
             "--model", "stub", "--data-dir", str(data), "--concurrency", "1",
             "--output-dir", str(out), *flags], capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        loop.stop()
    if proc.returncode != 0:
        raise SystemExit(f"rla bench {slug} failed:\n{proc.stderr[-2000:]}")
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(run)


def gist_figures(run: rundir.RunDir) -> dict[str, Any]:
    bundle = gist_bundle(run, load_record(run.record))
    sizes = {name: len(data) for name, data in bundle.files.items()}
    samples = run.samples.read_bytes()
    n = samples.count(b"\n")
    packed = sum(len(part) for part in compact.compact(samples, LIMIT).values())
    return {"samples": n, "samples_jsonl_bytes": len(samples),
            "compact_bytes": packed, "compact_bytes_per_sample": round(packed / max(n, 1), 1),
            "files": len(sizes),
            "gist_bytes": sum(sizes.values()), "largest_file_bytes": max(sizes.values()),
            "every_file_within_10MB": max(sizes.values()) <= LIMIT, "sizes": sizes}


def verify_gist(run: rundir.RunDir, data: Path, scratch: Path) -> dict[str, Any]:
    fake = FakeGitHub()
    loop = fake.start()
    try:
        with GistClient(VALID_TOKEN, api_url=fake.url) as client:
            url = publish_run(run.path, client).url
        ran = measure(rla_argv("verify", url, "--data-dir", str(data), "--github-api-url",
                               fake.url), scratch / "verify.log",
                      {**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        loop.stop()
    wall, rss_mb = ran.wall_s, ran.peak_rss_mb
    return {"exit_code": ran.exit_code, "wall_s": round(wall, 2),
            "peak_rss_mb": round(rss_mb, 1), "within_goals": wall < GOAL_WALL_S and
            rss_mb <= GOAL_RSS_MB, "output_tail": ran.tail(1500)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--skip-humaneval", action="store_true")
    parser.add_argument("--limit-per-subtask", type=int, default=None,
                        help="a slice, to check the script (each figure is then per slice; the"
                        " compact bytes per sample still project the full set)")
    args = parser.parse_args()
    flags = (() if args.limit_per_subtask is None else
             ("--limit-per-subtask", str(args.limit_per_subtask)))
    data: Path = args.data_dir.resolve()
    figures: dict[str, Any] = {"load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="rla-evidence-") as scratch:
        runs = {"mmlu": ("mmlu", lambda p: "A"),
                "turkish-mmlu-generative": ("turkishmmlu", lambda p: "A")}
        if not args.skip_humaneval:
            runs["humaneval-plus"] = ("humanevalplus", lambda p: LONG_BODY)
        for slug, (folder, policy) in runs.items():
            run = bench(slug, data / folder, Path(scratch) / slug, policy, *flags)
            figures[slug] = gist_figures(run)
            print(f"{slug}: {figures[slug]['files']} Gist files,"
                  f" {figures[slug]['gist_bytes']:,} bytes (samples.jsonl"
                  f" {figures[slug]['samples_jsonl_bytes']:,}; in compact form"
                  f" {figures[slug]['compact_bytes']:,},"
                  f" {figures[slug]['compact_bytes_per_sample']} per sample), largest file"
                  f" {figures[slug]['largest_file_bytes']:,}; load average"
                  f" {os.getloadavg()}")
            if slug == "mmlu":
                figures["verify_mmlu_gist"] = verify_gist(run, data / folder, Path(scratch))
                v = figures["verify_mmlu_gist"]
                print(f"rla verify (full MMLU Gist, --data-dir): exit {v['exit_code']},"
                      f" {v['wall_s']} s, peak RSS {v['peak_rss_mb']} MB; load average"
                      f" {os.getloadavg()}")
    figures["load_average_after"] = os.getloadavg()
    out = ROOT / "benchmarks" / "results" / "evidence_size.json"
    if args.limit_per_subtask is not None:  # a slice checks the script; it is no result
        out = Path(tempfile.gettempdir()) / "evidence_size-slice.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
