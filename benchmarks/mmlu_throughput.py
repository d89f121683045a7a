"""Issue 3's measures for `rla bench mmlu` (5-shot, first-token log-probability):

- requests per question (goal 1.0), counted on the server's side: completions llama-server
  started (one `launch_slot_` line each in its log) or the stub answered, ÷ samples written;
- questions per second against a real llama-server with gemma-3-270m (a slice of the full
  MMLU test set, concurrency 1): the model's speed, which the harness should not lower;
- questions per second against an instant local stub (tests/support/llama_stub.py) on the full
  test set (14,042 questions) at concurrency 1 and 8: the harness's own ceiling;
- the `rla` process's peak RSS on the full test set (goal ≤ 200 MB, issue 18) and its CPU time per
  question, read from the kernel for that one child (os.wait4);
- beside each stub run, a plain async client (httpx.AsyncClient, the same number of requests
  in flight) sending the very request bodies rla sent to the same stub, in a process of its
  own: rla's rate ÷ the plain client's is the harness's cost (issue 18: goal ≥ 0.8 at
  concurrency 8); and beside it a raw asyncio client (kept-alive HTTP/1.1 over streams, no
  HTTP library), the stricter yardstick now that rla no longer uses httpx on http://. rla and
  the plain clients alternate, --rounds times, and each figure is
  printed with the machine's 1-minute load average when it was taken.

    .venv/bin/python benchmarks/mmlu_throughput.py [--server-limit 40] [--stub-limit N]
                                                  [--concurrency 1 8] [--rounds 2] [--no-server]

Needs the shared data (../shared/data/mmlu beside the checkout, or --data-dir) and, for the
llama-server part, a build (scripts/setup.sh --server). Writes
benchmarks/results/mmlu_throughput.json. Timings on a shared machine are noisy: CPU seconds
per question are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import Measured, measure  # noqa: E402
from runlocalai_bench import paths  # noqa: E402
from runlocalai_bench.models import embedded_model_path  # noqa: E402
from runlocalai_bench.results import rundir  # noqa: E402
from tests.support.llama_server import LlamaServer  # noqa: E402
from tests.support.llama_stub import StubLlamaServer  # noqa: E402

SHARED_MMLU = ROOT.parent / "shared" / "data" / "mmlu"
GOAL_RSS_MB = 200
GOAL_PLAIN_RATIO = 0.8  # rla's questions per second ÷ a plain async client's requests per second


@dataclass(frozen=True)
class ChildRun:
    """One `rla bench` process, measured from outside."""

    questions: int
    requests: int
    requests_per_question: float
    process_wall_s: float  # start to exit: imports, data load, prompts, requests, record
    loop_wall_s: float  # the request loop alone (record timings.wall_s)
    questions_per_s: float  # questions ÷ process wall
    loop_questions_per_s: float
    cpu_s: float  # user + system CPU of the rla process
    cpu_ms_per_question: float
    peak_rss_mb: float
    load_average: float | None = None  # the 1-minute load average when it started


# What each plain client's script starts and ends with: the bodies rla sent, `concurrency`
# requests in flight from `main()`, the request loop's wall time written out.
_CLIENT_ARGS = """
import asyncio, json, sys, time
url, bodies_path, concurrency, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(bodies_path) as f:
    bodies = json.load(f)
"""
_CLIENT_RUN = """
async def timed():
    started = time.perf_counter()
    await main()
    return time.perf_counter() - started

wall = asyncio.run(timed())
with open(out, "w") as f:
    json.dump({"requests": len(bodies), "loop_wall_s": wall}, f)
"""

# The plain client: one httpx.AsyncClient, each answer read as JSON; no prompts built, nothing
# scored or written.
PLAIN_CLIENT = _CLIENT_ARGS + """
import httpx
client = httpx.AsyncClient(base_url=url, timeout=600)  # made before the clock starts

async def main():
    pending = iter(bodies)

    async def worker():
        for body in pending:
            path = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
            response = await client.post(path, json=body)
            response.raise_for_status()
            response.json()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
""" + _CLIENT_RUN

# The leanest plain client: the same bodies over raw asyncio streams, one kept-alive HTTP/1.1
# connection per request in flight, each answer read by its Content-Length and parsed as JSON.
# A stricter yardstick than httpx (whose own cost is most of what rla saves over it).
RAW_CLIENT = _CLIENT_ARGS + """
from urllib.parse import urlsplit
where = urlsplit(url)

async def main():
    pending = iter(bodies)

    async def worker():
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        for body in pending:
            path = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            writer.write(b"POST %s HTTP/1.1\\r\\nHost: %s\\r\\nContent-Type: application/json\\r\\n"
                         b"Content-Length: %d\\r\\n\\r\\n" % (path.encode(), where.netloc.encode(),
                                                         len(data)) + data)
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:40]
            length = next(int(line.split(b":")[1]) for line in head.split(b"\\r\\n")
                          if line.lower().startswith(b"content-length:"))
            json.loads(await reader.readexactly(length))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
""" + _CLIENT_RUN


@dataclass(frozen=True)
class PlainRun:
    """The plain async client on rla's request bodies, measured as rla is."""

    requests: int
    process_wall_s: float
    loop_wall_s: float  # the requests alone
    requests_per_s: float  # requests ÷ process wall
    loop_requests_per_s: float
    cpu_ms_per_request: float
    load_average: float


def launched(args: list[str], log: Path, env: dict[str, str] | None = None) -> Measured:
    """Run `args` measured on its own (benchmarks/measure.py); a failure stops the script."""
    usage = measure(args, log, env)
    if usage.exit_code != 0:
        raise SystemExit(f"{args[:4]} failed ({usage.exit_code}):\n{usage.tail()}")
    return usage


def run_plain(url: str, bodies: list, concurrency: int, out: Path,
              client: str = PLAIN_CLIENT) -> PlainRun:
    out.mkdir(parents=True)
    (out / "bodies.json").write_text(json.dumps(bodies))
    load = os.getloadavg()[0]
    usage = launched([sys.executable, "-c", client, url, str(out / "bodies.json"),
                      str(concurrency), str(out / "plain.json")], out / "plain.stderr")
    loop_wall = json.loads((out / "plain.json").read_text())["loop_wall_s"]
    n, wall = len(bodies), usage.wall_s
    return PlainRun(requests=n, process_wall_s=round(wall, 3), loop_wall_s=round(loop_wall, 3),
                    requests_per_s=round(n / wall, 2),
                    loop_requests_per_s=round(n / loop_wall, 2),
                    cpu_ms_per_request=round(1000 * usage.cpu_s / n, 3),
                    load_average=round(load, 2))


def run_rla(url: str, data_dir: Path, out: Path, *flags: str,
            count_requests: Callable[[], int]) -> tuple[ChildRun, list[dict]]:
    """Run `rla bench mmlu` through the launcher; its figures and its samples."""
    args = [sys.executable, "-m", "runlocalai_bench", "bench", "mmlu", "--endpoint", url,
            "--data-dir", str(data_dir), "--output-dir", str(out), "--json", *flags]
    env = {**os.environ, "RLA_HOME": str(out / "home"), "NO_COLOR": "1"}
    requests_before = count_requests()
    out.mkdir(parents=True)
    load = os.getloadavg()[0]
    usage = launched(args, out.with_suffix(".stderr"), env)
    (run_path,) = [p for p in out.iterdir() if p.is_dir() and p.name != "home"]
    run = rundir.RunDir(run_path)
    samples = rundir.read_samples(run.samples)
    record = json.loads(run.record.read_text())
    requests = count_requests() - requests_before
    n = len(samples)
    wall, loop_wall, cpu = usage.wall_s, float(record["timings"]["wall_s"]), usage.cpu_s
    return ChildRun(
        questions=n, requests=requests, requests_per_question=round(requests / n, 4),
        process_wall_s=round(wall, 3), loop_wall_s=round(loop_wall, 3),
        questions_per_s=round(n / wall, 2), loop_questions_per_s=round(n / loop_wall, 2),
        cpu_s=round(cpu, 3), cpu_ms_per_question=round(1000 * cpu / n, 3),
        peak_rss_mb=round(usage.peak_rss_mb, 1),
        load_average=round(load, 2),
    ), samples


def against_llama_server(data_dir: Path, limit: int, tmp: Path) -> dict:
    """A slice at concurrency 1. Beside the harness's figures: the engine's own time
    (Σ prompt_ms + predicted_ms from llama-server's timings) and the questions per second the
    engine alone would allow, which the harness should match."""
    log = tmp / "llama-server.log"
    # 8192: the longest 5-shot MMLU prompts (high_school_european_history) exceed 2048 tokens.
    server = LlamaServer(embedded_model_path(paths.cache_home(os.environ)), log, n_ctx=8192).start()
    try:
        run, samples = run_rla(server.url, data_dir, tmp / "llama", "--limit", str(limit),
                               "--concurrency", "1",
                               count_requests=lambda: log.read_text(errors="replace")
                               .count("launch_slot_"))
    finally:
        server.stop()
    timings = [s["server_timings"] or {} for s in samples]
    engine_s = sum(float(t.get("prompt_ms", 0.0)) + float(t.get("predicted_ms", 0.0))
                   for t in timings) / 1000
    prompt_tokens = sum(int(t.get("prompt_n", 0)) for t in timings)
    return {**asdict(run), "model": "gemma-3-270m Q4_K_M", "concurrency": 1,
            "engine_s": round(engine_s, 3),
            "engine_questions_per_s": round(run.questions / engine_s, 3),
            "engine_share_of_loop": round(engine_s / run.loop_wall_s, 4),
            "mean_prompt_tokens": round(prompt_tokens / run.questions, 1),
            "error_samples": sum(s["status"] == "error" for s in samples)}


def against_stub(data_dir: Path, limit: int | None, concurrency: int, tmp: Path,
                 rounds: int) -> list[tuple[ChildRun, PlainRun, PlainRun]]:
    """rla, then the plain httpx client and the raw one on the bodies rla sent, on one stub;
    `rounds` times."""
    stub = StubLlamaServer(policy=lambda prompt: "A")
    server = stub.start()
    pairs = []
    try:
        flags = ["--concurrency", str(concurrency)] + (["--limit", str(limit)] if limit else [])
        for round_ in range(1, rounds + 1):
            stub.bodies.clear()
            run, _ = run_rla(server.url, data_dir, tmp / f"stub-c{concurrency}-r{round_}",
                             *flags, count_requests=lambda: stub.completions)
            bodies, stub.bodies[:] = list(stub.bodies), []
            plain = run_plain(server.url, bodies, concurrency,
                              tmp / f"plain-c{concurrency}-r{round_}")
            raw = run_plain(server.url, bodies, concurrency,
                            tmp / f"raw-c{concurrency}-r{round_}", RAW_CLIENT)
            show(f"stub, concurrency {concurrency}", run)
            show_plain(run, plain)
            show_plain(run, raw, "raw asyncio client")
            pairs.append((run, plain, raw))
        return pairs
    finally:
        server.stop()


def stub_alone(n: int = 2000) -> float:
    """The stub's own ceiling: requests per second from a plain sequential httpx client sending
    an MMLU-sized body (so a reader can tell the harness's limit from the stub's)."""
    stub = StubLlamaServer(policy=lambda prompt: "A")
    server = stub.start()
    body = {"model": "m", "prompt": "x" * 3000, "max_tokens": 1, "logprobs": 20,
            "temperature": 0.0, "cache_prompt": False}
    try:
        with httpx.Client(base_url=server.url) as client:
            started = time.perf_counter()
            for _ in range(n):
                client.post("/v1/completions", json=body).raise_for_status()
            return round(n / (time.perf_counter() - started), 1)
    finally:
        server.stop()


def show(name: str, run: ChildRun) -> None:
    print(f"{name:<22} {run.questions:>6} q  {run.requests_per_question:.3f} req/q  "
          f"{run.questions_per_s:8.2f} q/s ({run.loop_questions_per_s:.2f} in the loop)  "
          f"{run.cpu_ms_per_question:7.2f} CPU ms/q  peak RSS {run.peak_rss_mb} MB  "
          f"load {run.load_average}")


def show_plain(run: ChildRun, plain: PlainRun, name: str = "plain async client") -> None:
    print(f"{'  ' + name:<22} {plain.requests:>6} r  {'':>13}"
          f"{plain.requests_per_s:8.2f} r/s ({plain.loop_requests_per_s:.2f} in the loop)  "
          f"{plain.cpu_ms_per_request:7.2f} CPU ms/r  load {plain.load_average}")
    print(f"{'  rla ÷ plain':<22} {run.questions_per_s / plain.requests_per_s:.3f} "
          f"(in the loop {run.loop_questions_per_s / plain.loop_requests_per_s:.3f}; "
          f"goal ≥ {GOAL_PLAIN_RATIO} at concurrency 8)")


def ratios(run: ChildRun, plain: PlainRun) -> dict:
    return {**asdict(plain),
            "rla_over_plain": round(run.questions_per_s / plain.requests_per_s, 3),
            "rla_over_plain_in_the_loop": round(run.loop_questions_per_s
                                                / plain.loop_requests_per_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED_MMLU)
    parser.add_argument("--server-limit", type=int, default=40,
                        help="questions to send llama-server (about 3 s each on 2 CPU cores)")
    parser.add_argument("--stub-limit", type=int, default=None,
                        help="questions to send the stub (default: the full test set)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=2,
                        help="rla and the plain client, alternating, this many times each")
    parser.add_argument("--no-server", action="store_true", help="skip the llama-server part")
    args = parser.parse_args()

    result: dict = {
        "benchmark": "rla bench mmlu: requests per question, questions per second, peak RSS",
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d"), "goals": {"requests_per_question": 1.0,
                                                     "peak_rss_mb": GOAL_RSS_MB,
                                                     "rla_over_plain_c8": GOAL_PLAIN_RATIO},
        "note": "shared 2-core machine with other jobs running: wall-clock figures are noisy, "
                "CPU ms per question is steadier",
    }
    with tempfile.TemporaryDirectory(prefix="rla-mmlu-bench-") as name:
        tmp = Path(name)
        result["stub_alone_requests_per_s"] = stub_alone()
        print(f"stub alone (plain httpx client): {result['stub_alone_requests_per_s']} req/s")
        stub_runs, plain_runs, raw_runs = {}, {}, {}
        for concurrency in args.concurrency:
            pairs = against_stub(args.data_dir, args.stub_limit, concurrency, tmp, args.rounds)
            stub_runs[f"concurrency_{concurrency}"] = [asdict(run) for run, _, _ in pairs]
            plain_runs[f"concurrency_{concurrency}"] = [ratios(run, plain)
                                                        for run, plain, _ in pairs]
            raw_runs[f"concurrency_{concurrency}"] = [ratios(run, raw) for run, _, raw in pairs]
        result["stub"] = stub_runs
        result["plain_async_client"] = plain_runs
        result["raw_asyncio_client"] = raw_runs
        if not args.no_server:
            served = against_llama_server(args.data_dir, args.server_limit, tmp)
            result["llama_server_gemma_3_270m"] = served
            show("llama-server, gemma", ChildRun(**{k: served[k] for k in
                                                    ChildRun.__dataclass_fields__}))
            print(f"{'':<22} engine alone {served['engine_questions_per_s']:.3f} q/s, engine "
                  f"share of the loop {served['engine_share_of_loop']:.4f}, "
                  f"{served['mean_prompt_tokens']} prompt tokens/q")
    peak = max(r["peak_rss_mb"] for runs in result["stub"].values() for r in runs)
    result["peak_rss_mb_full_set"] = peak if args.stub_limit is None else None
    print(f"peak RSS {peak} MB (goal ≤ {GOAL_RSS_MB} MB)")
    out = ROOT / "benchmarks" / "results" / "mmlu_throughput.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
