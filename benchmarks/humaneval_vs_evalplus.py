"""rla against EvalPlus 0.3.1 on the same HumanEval+ programs: verdicts and cost, both for the
command a user runs (`rla bench humaneval-plus`) and for rla's scorer alone.

    .venv/bin/python benchmarks/humaneval_vs_evalplus.py --data-dir /path/to/humanevalplus
        [--samples run/samples.jsonl] [--rounds 2] [--workers 2]

1. Installs evalplus==0.3.1 into benchmarks/.venv-evalplus (once; its own venv, gitignored).
2. Writes the programs to score as an EvalPlus samples file ({"task_id", "solution"}): the 164
   canonical solutions (prompt + canonical_solution); with --mutants, each canonical solution
   with one deterministic change (a comparison flipped, else an integer constant plus one:
   wrong answers, exceptions and timeouts); with --samples, the programs rla extracted in a run
   (`extracted` of each samples.jsonl line; an unparsed reply becomes an empty program, which
   both tools fail).
3. Times three commands, each a separate process: `evalplus.evaluate --dataset humaneval
   --parallel N --min-time-limit 4` (rla's floor; EvalPlus's factor 4 and per-task cap 60 s
   are its defaults, as in rla's spec) offline (HUMANEVAL_OVERRIDE_PATH, its cache in
   benchmarks/.cache-evalplus); `rla bench humaneval-plus --prompt-style chat` end to end (probe,
   rig, data load, one request per task, sandboxed execution, comparison, run directory and
   record) against an instant local server that answers each task with its program in a fenced
   block (a llama-server stand-in: tests/support/llama_stub.py's /props and /v1/models), at
   rla's default concurrency, 1; and rla's scorer alone on the same file with N workers. First
   a cold run of each (expected outputs computed, rla's cache emptied before each of its two),
   then `--rounds` warm rounds, alternating. Wall time is the process's; peak RSS is sampled
   over the whole process tree (sum) and also reported per process (max); the machine's
   1-minute load average at each start is printed and kept beside each figure.
4. Compares per-task verdicts (base, and plus = base and plus) of EvalPlus, rla's scorer and
   the `rla bench` run, and prints and writes everything to
   benchmarks/results/humaneval_vs_evalplus[-<name>].json.

EvalPlus 0.3.1 fails every HumanEval/32 solution (its find_zero oracle `continue`s before
recording the pass: evalplus/evalplus#201); that task is reported as a known difference.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.llama_stub import MODELS, PROPS  # noqa: E402
from tests.support.servers import LoopbackServer, Reply, Seen  # noqa: E402

VENV = HERE / ".venv-evalplus"
RESULTS = HERE / "results"
EVALPLUS = "evalplus==0.3.1"
KNOWN_DIFFERENCES = {"HumanEval/32": "EvalPlus 0.3.1 never records a find_zero pass "
                                     "(evalplus/evalplus#201)"}


# -- EvalPlus in its own venv ---------------------------------------------------------------------


def ensure_evalplus() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import evalplus, sys; print(evalplus.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or not probe.stdout.strip().startswith("0.3.1"):
        subprocess.run([str(python), "-m", "pip", "install", "-q", EVALPLUS], check=True)
    return VENV / "bin" / "evalplus.evaluate"


# -- measuring a process tree ----------------------------------------------------------------------


def measure(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run `command`: wall seconds, the peak RSS of its whole process tree (summed) and of its
    largest process, sampled every 50 ms, and the machine's 1-minute load average at its start."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    peak_tree = peak_one = 0
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        sizes = []
        try:
            for p in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    sizes.append(p.memory_info().rss)
        except psutil.Error:
            pass
        peak_tree, peak_one = max(peak_tree, sum(sizes)), max(peak_one, max(sizes, default=0))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    reader.join()
    if proc.returncode != 0:
        sys.stderr.write("".join(lines[-40:]))
        raise SystemExit(f"{command[0]} failed with exit code {proc.returncode}")
    return {"wall_s": round(wall, 2), "peak_rss_tree_mb": round(peak_tree / 2**20, 1),
            "peak_rss_process_mb": round(peak_one / 2**20, 1), "load_1min": round(load, 2)}


# -- `rla bench` end to end, against an instant server ----------------------------------------


class ProgramServer:
    """A llama-server stand-in on 127.0.0.1 that answers each task's chat prompt at once with
    that task's program in a fenced block (found by the task's prompt inside the message)."""

    def __init__(self, rows: list[dict[str, Any]], programs: dict[str, str]) -> None:
        self.answers = [(r["prompt"].strip(), programs[r["task_id"]]) for r in rows]
        self.server = LoopbackServer(self.handle)

    def handle(self, seen: Seen) -> Reply:
        path = seen.path.split("?")[0]
        if path == "/health":
            return Reply(body={"status": "ok"})
        if path == "/props":
            return Reply(body=PROPS)
        if path == "/v1/models":
            return Reply(body=MODELS)
        if path != "/v1/chat/completions":
            return Reply(404, {"error": {"code": 404, "message": "File Not Found"}})
        content = seen.body["messages"][-1]["content"]
        program = next((p for prompt, p in self.answers if f"```\n{prompt}\n```" in content), "")
        return Reply(body={
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": f"```python\n{program}\n```\n"}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 100},
            "timings": {"prompt_n": 100, "prompt_ms": 0.1, "predicted_n": 100,
                        "predicted_ms": 0.1}})

    def __enter__(self) -> str:
        self.server.start()
        return self.server.url

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def bench_verdicts(out: Path) -> dict[str, dict[str, str]]:
    """Per-task verdicts of the one `rla bench` run under `out`."""
    (samples,) = out.glob("*/samples.jsonl")
    verdicts = {}
    for line in samples.read_text().splitlines():
        sample = json.loads(line)
        base = (sample.get("details") or {}).get("base")
        verdicts[sample["id"]] = {"base": "pass" if base == "pass" else "fail",
                                  "plus": "pass" if sample["status"] == "pass" else "fail"}
    return verdicts


# -- rla's side, run as a separate process: `--score-with-rla samples out` -------------------------


def score_with_rla(samples: Path, out: Path, data_dir: Path, workers: int) -> None:
    sys.path.insert(0, str(ROOT))
    from runlocalai_bench import paths
    from runlocalai_bench.evals import load_eval
    from runlocalai_bench.types import DataSource

    ev = load_eval("humaneval-plus", cache_dir=paths.cache_home(os.environ))
    dataset = ev.load(DataSource(kind="dir", path=str(data_dir)))
    items = {item.id: item for item in dataset.items}
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]

    def check(row: dict[str, Any]) -> tuple[str, dict[str, str]]:
        verdicts = ev.check(items[row["task_id"]], row["solution"])
        base = verdicts[0].status
        plus = verdicts[1].status if len(verdicts) > 1 else "fail"
        return row["task_id"], {"base": base, "plus": "pass" if base == plus == "pass" else
                                "fail"}

    try:
        with ThreadPoolExecutor(workers) as pool:  # in file order, as EvalPlus submits them
            verdicts = dict(pool.map(check, rows))
        out.write_text(json.dumps({"verdicts": verdicts,
                                   "isolation": ev.isolation().summary()}))
    finally:
        ev.close()


# -- the comparison ----------------------------------------------------------------------------


def write_samples(args: argparse.Namespace, workdir: Path
                  ) -> tuple[Path, str, list[str], list[dict[str, Any]], dict[str, str]]:
    """The samples file (every task: EvalPlus insists) and the task ids under comparison.
    With --samples, tasks the run did not cover get an empty program and are left out of the
    comparison."""
    with gzip.open(args.data_dir / "HumanEvalPlus-v0.1.10.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if args.mutants:
        programs = [{"task_id": r["task_id"], "solution": mutant(r["prompt"]
                                                                 + r["canonical_solution"])}
                    for r in rows]
        compared = [r["task_id"] for r in rows]
        name = args.name or "mutants"
    elif args.samples:
        by_id = {}
        for line in Path(args.samples).read_text().splitlines():
            if line.strip():
                sample = json.loads(line)
                by_id[sample["id"]] = sample.get("extracted") or ""
        programs = [{"task_id": r["task_id"], "solution": by_id.get(r["task_id"], "")}
                    for r in rows]
        compared = [r["task_id"] for r in rows if r["task_id"] in by_id]
        name = args.name or Path(args.samples).parent.name
    else:
        programs = [{"task_id": r["task_id"], "solution": r["prompt"] + r["canonical_solution"]}
                    for r in rows]
        compared = [r["task_id"] for r in rows]
        name = args.name or "canonical"
    path = workdir / "samples.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in programs))
    return path, name, compared, rows, {p["task_id"]: p["solution"] for p in programs}


class _Mutate(ast.NodeTransformer):
    """The first comparison operator flipped (< and <=, > and >=, == and !=), else the first
    integer constant plus one: a small, deterministic, usually wrong change."""

    FLIP: ClassVar[dict[type, type]] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                                        ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.done = False

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if self.mode == "compare" and not self.done and type(node.ops[0]) in self.FLIP:
            node.ops[0] = self.FLIP[type(node.ops[0])]()
            self.done = True
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if (self.mode == "constant" and not self.done and type(node.value) is int
                and not isinstance(node.value, bool)):
            self.done = True
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node


def mutant(program: str) -> str:
    """`program` with its entry point's body changed by _Mutate (the prompt's helpers kept)."""
    tree = ast.parse(program)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    target = functions[-1]
    for mode in ("compare", "constant"):
        changer = _Mutate(mode)
        changed = changer.visit(copy.deepcopy(target))
        if changer.done:
            tree.body[tree.body.index(target)] = changed
            return ast.unparse(tree) + "\n"
    return program


def evalplus_verdicts(results_file: Path) -> dict[str, dict[str, str]]:
    data = json.loads(results_file.read_text())
    out = {}
    for task_id, runs in data["eval"].items():
        (run,) = runs
        base, plus = run["base_status"], run["plus_status"]
        out[task_id] = {"base": "pass" if base == "pass" else "fail",
                        "plus": "pass" if base == plus == "pass" else "fail"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="folder holding HumanEvalPlus-v0.1.10.jsonl.gz")
    parser.add_argument("--samples", help="an rla samples.jsonl whose extracted programs to score")
    parser.add_argument("--mutants", action="store_true",
                        help="score a one-change mutant of each canonical solution instead")
    parser.add_argument("--name", help="suffix of the results file")
    parser.add_argument("--rounds", type=int, default=2, help="warm rounds of each tool")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--score-with-rla", nargs=2, metavar=("SAMPLES", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score_with_rla:
        score_with_rla(Path(args.score_with_rla[0]), Path(args.score_with_rla[1]),
                       args.data_dir, args.workers)
        return

    evaluate = ensure_evalplus()
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rla-vs-evalplus-") as tmp:
        workdir = Path(tmp)
        samples, name, compared, rows, programs = write_samples(args, workdir)
        plain = workdir / "HumanEvalPlus-v0.1.10.jsonl"
        plain.write_bytes(gzip.decompress((args.data_dir / "HumanEvalPlus-v0.1.10.jsonl.gz")
                                          .read_bytes()))
        evalplus_cache = HERE / ".cache-evalplus"
        rla_cache = HERE / ".cache-rla"
        for cache in (evalplus_cache, rla_cache):
            shutil.rmtree(cache, ignore_errors=True)
        base_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        ev_env = {**base_env, "HUMANEVAL_OVERRIDE_PATH": str(plain),
                  "XDG_CACHE_HOME": str(evalplus_cache)}
        rla_env = {**base_env, "RLA_CACHE_DIR": str(rla_cache), "PYTHONPATH": str(ROOT),
                   "RLA_HOME": str(workdir / "rla-home"), "NO_COLOR": "1"}
        ev_results = workdir / "samples_eval_results.json"
        ev_cmd = [str(evaluate), "--dataset", "humaneval", "--samples", str(samples),
                  "--parallel", str(args.workers), "--min-time-limit", "4"]
        ours_out = workdir / "rla.json"
        rla_cmd = [sys.executable, str(Path(__file__).resolve()), "--data-dir",
                   str(args.data_dir), "--workers", str(args.workers), "--score-with-rla",
                   str(samples), str(ours_out)]
        bench_out = workdir / "rla-runs"

        def run_evalplus() -> dict[str, float]:
            ev_results.unlink(missing_ok=True)
            return measure(ev_cmd, ev_env)

        def run_scorer() -> dict[str, float]:
            return measure(rla_cmd, rla_env)

        def run_bench(url: str) -> dict[str, float]:
            shutil.rmtree(bench_out, ignore_errors=True)
            return measure([sys.executable, "-m", "runlocalai_bench", "bench", "humaneval-plus",
                            "--endpoint", url, "--data-dir", str(args.data_dir),
                            "--prompt-style", "chat", "--output-dir", str(bench_out),
                            "--json"], rla_env)

        def line(label: str, figures: dict[str, dict[str, float]]) -> str:
            return f"{label}: " + "  ".join(
                f"{tool} {f['wall_s']} s (load {f['load_1min']}, tree {f['peak_rss_tree_mb']} MB)"
                for tool, f in figures.items())

        print(f"scoring {len(compared)} programs ({name}) with "
              f"{args.workers} workers on {psutil.cpu_count()} CPUs", flush=True)
        with ProgramServer(rows, programs) as url:
            cold = {"evalplus": run_evalplus(), "rla_bench": run_bench(url)}
            shutil.rmtree(rla_cache, ignore_errors=True)
            cold["rla"] = run_scorer()
            print(line("cold", {"evalplus": cold["evalplus"], "rla bench": cold["rla_bench"]}))
            print(line("      scorer alone", {"rla": cold["rla"]}), flush=True)
            warm: dict[str, list[dict[str, float]]] = {"evalplus": [], "rla_bench": [],
                                                       "rla": []}
            for number in range(args.rounds):
                warm["evalplus"].append(run_evalplus())
                warm["rla_bench"].append(run_bench(url))
                warm["rla"].append(run_scorer())
                print(line(f"warm {number + 1}", {"evalplus": warm["evalplus"][-1],
                                                  "rla bench": warm["rla_bench"][-1]}))
                print(line("      scorer alone", {"rla": warm["rla"][-1]}), flush=True)
        theirs = {k: v for k, v in evalplus_verdicts(ev_results).items() if k in compared}
        ours_data = json.loads(ours_out.read_text())
        ours = {k: v for k, v in ours_data["verdicts"].items() if k in compared}
        bench = {k: v for k, v in bench_verdicts(bench_out).items() if k in compared}

    def differ(ours: dict[str, Any]) -> dict[str, Any]:
        return {task: {"evalplus": theirs.get(task), "rla": ours.get(task)}
                for task in sorted(set(theirs) | set(ours)) if theirs.get(task) != ours.get(task)}

    differences, bench_differences = differ(ours), differ(bench)
    unexplained = sorted((set(differences) | set(bench_differences)) - set(KNOWN_DIFFERENCES))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    summary = {
        "programs": name, "tasks": len(ours), "workers": args.workers,
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version(),
                    "system": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "isolation": ours_data["isolation"], "evalplus": EVALPLUS,
        "rla_bench_command": "rla bench humaneval-plus --prompt-style chat --endpoint <instant "
                             "local server> --data-dir <data> (concurrency 1)",
        "cold": cold, "warm": warm,
        "warm_median": {tool: {k: median(runs, k) for k in runs[0]}
                        for tool, runs in warm.items()} if args.rounds else {},
        "pass_at_1": {tool: {s: sum(v[s] == "pass" for v in verdicts.values()) / len(verdicts)
                             for s in ("base", "plus")}
                      for tool, verdicts in (("evalplus", theirs), ("rla", ours),
                                             ("rla_bench", bench))},
        "differences": differences, "rla_bench_differences": bench_differences,
        "known_differences": KNOWN_DIFFERENCES,
        "unexplained_differences": unexplained,
    }
    if args.rounds:
        for tool, key in (("rla_bench", "warm_wall_ratio_rla_bench"), ("rla", "warm_wall_ratio")):
            summary[key] = round(summary["warm_median"][tool]["wall_s"]
                                 / summary["warm_median"]["evalplus"]["wall_s"], 3)
    for tool, key in (("rla_bench", "cold_wall_ratio_rla_bench"), ("rla", "cold_wall_ratio")):
        summary[key] = round(cold[tool]["wall_s"] / cold["evalplus"]["wall_s"], 3)
    out = RESULTS / f"humaneval_vs_evalplus-{name}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in (
        "warm_median", "warm_wall_ratio_rla_bench", "warm_wall_ratio", "cold",
        "cold_wall_ratio_rla_bench", "cold_wall_ratio", "pass_at_1", "differences",
        "rla_bench_differences", "unexplained_differences") if k in summary}, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    if unexplained:
        raise SystemExit(f"verdicts differ on {len(unexplained)} tasks: {unexplained[:10]}")


if __name__ == "__main__":
    main()
