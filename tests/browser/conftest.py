"""Real runs to open in a real browser, each made once per session by `rla bench` in a real
process (run.log tees its descriptors; HumanEval+ runs code in the sandbox):

- `gemma_selfcheck`: the README's main job, selfcheck on the embedded gemma-3-270m in process;
- `humaneval_failures`: HumanEval+ on the bundled sample against the stub llama-server, one task
  per outcome (pass, plus-only fail, wrong output, timeout, killed by a signal);
- `speed_run`: `rla bench speed` against the streaming stub llama-server;
- `mmlu_pair`: two MMLU runs of the bundled sample against the stub, another quantization and
  other answers (some unreadable), for a comparison.

The browser (tests/support/browser.py) is one headless Chromium for the session; `page` hands it
to a test with the console's earlier entries drained. Where Chromium, its driver or Selenium is
missing the tests skip with the reason (RLA_REQUIRE_TEST_DATA=1: they fail).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from runlocalai_bench.results import rundir
from tests.conftest import REAL_CACHE, SECRET_ENV
from tests.review.conftest import OtherModelStub
from tests.support.browser import Page, absent
from tests.support.cli import rla
from tests.support.data import unavailable
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import LoopbackServer
from tests.support.streaming import StreamingLlamaServer

HUMANEVAL_SAMPLE = (Path(__file__).parents[2] / "runlocalai_bench" / "bundled"
                    / "humanevalplus-sample.jsonl")

Env = Mapping[str, str | None]


def chromium(tmp_path_factory: pytest.TempPathFactory, *, javascript: bool) -> Iterator[Page]:
    reason = absent()
    if reason is not None:
        unavailable(reason)
    page = Page(tmp_path_factory.mktemp("chromium-profile"), javascript=javascript)
    yield page
    page.close()


@pytest.fixture(scope="session")
def _browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    yield from chromium(tmp_path_factory, javascript=True)


@pytest.fixture(scope="session")
def page_without_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """A second Chromium, one that runs no page's scripts."""
    yield from chromium(tmp_path_factory, javascript=False)


@pytest.fixture
def page(_browser: Page) -> Page:
    """The session's Chromium, its console's entries so far read and dropped."""
    _browser.console_errors()
    return _browser


@pytest.fixture(scope="session")
def run_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """What the autouse isolation gives a test, for the session's runs (made before it
    applies): a HOME and data dir of their own, the shared model cache, no tokens."""
    home = tmp_path_factory.mktemp("runs-home")
    return {"HOME": str(home), "RLA_HOME": str(home / "rla-data"),
            "RLA_CACHE_DIR": str(REAL_CACHE), "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", **dict.fromkeys(SECRET_ENV)}


def bench(out: Path, env: Env, *args: str) -> rundir.RunDir:
    """`rla bench ARGS --output-dir OUT` in a real process; the finished run."""
    ran = rla("bench", *args, "--output-dir", str(out), env=env, process=True, timeout=900)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return rundir.RunDir(path)


def served(stub: StubLlamaServer | StreamingLlamaServer, out: Path, env: Env,
           *args: str) -> rundir.RunDir:
    server: LoopbackServer = stub.start()
    try:
        return bench(out, env, *args, "--endpoint", server.url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gemma_selfcheck(tmp_path_factory: pytest.TempPathFactory, run_env: Env) -> rundir.RunDir:
    return bench(tmp_path_factory.mktemp("selfcheck"), run_env, "selfcheck")


def humaneval_answers() -> Callable[[str], str]:
    """A chat 'model' for the bundled HumanEval+ sample, one outcome per task, chosen by the
    function the prompt asks for."""
    tasks = {task["entry_point"]: task for task in map(json.loads,
                                                        HUMANEVAL_SAMPLE.read_text().splitlines())}
    assert set(tasks) == {"truncate_number", "find_zero", "car_race_collision", "fib", "fibfib"}

    def canonical(name: str) -> str:
        return tasks[name]["prompt"] + tasks[name]["canonical_solution"]

    programs = {
        "truncate_number": canonical("truncate_number"),
        # Right on the base inputs it memorised, raising on any other: base passes, plus fails.
        "car_race_collision": canonical("car_race_collision") + (
            "\n\n_reference = car_race_collision\n\n\n"
            "def car_race_collision(*args):\n"
            f"    if list(args) not in {tasks['car_race_collision']['base_input']!r}:\n"
            "        raise LookupError('only the base inputs were memorised')\n"
            "    return _reference(*args)\n"),
        "fib": "def fib(n: int):\n    return None\n",
        "fibfib": "def fibfib(n: int):\n    while True:\n        pass\n",
        "find_zero": ("import os\nimport signal\n\n\ndef find_zero(xs: list):\n"
                      "    os.kill(os.getpid(), signal.SIGKILL)\n"),
    }

    def answer(prompt: str) -> str:
        entry_point = re.findall(r"^def (\w+)\(", prompt, re.MULTILINE)[-1]
        return f"Here it is:\n```python\n{programs[entry_point]}```\n"

    return answer


@pytest.fixture(scope="session")
def humaneval_failures(tmp_path_factory: pytest.TempPathFactory,
                       run_env: Env) -> rundir.RunDir:
    return served(StubLlamaServer(policy=humaneval_answers()),
                  tmp_path_factory.mktemp("humaneval"), run_env, "humaneval-plus", "--sample",
                  "--prompt-style", "chat", "--concurrency", "1", "--model", "stub")


@pytest.fixture(scope="session")
def speed_run(tmp_path_factory: pytest.TempPathFactory, run_env: Env) -> rundir.RunDir:
    return served(StreamingLlamaServer(decode_tps=lambda n: 40.0 + n % 3),
                  tmp_path_factory.mktemp("speed"), run_env, "speed", "--n-predict", "8")


def letter_by_length(prompt: str) -> str:
    return "ABCD"[len(prompt) % 4]


def letter_or_nothing(prompt: str) -> str:
    """Another 'model': a letter for most prompts, no readable answer for every seventh."""
    return "?" if len(prompt) % 7 == 0 else "ABCD"[len(prompt) // 3 % 4]


@pytest.fixture(scope="session")
def mmlu_pair(tmp_path_factory: pytest.TempPathFactory,
              run_env: Env) -> tuple[rundir.RunDir, rundir.RunDir]:
    """A: the stub's Q4_K_M answering by prompt length; B: its Q8_0 answering otherwise."""
    out = tmp_path_factory.mktemp("mmlu-pair")
    args = ("mmlu", "--sample", "--model", "stub")
    a = served(StubLlamaServer(policy=letter_by_length), out / "a", run_env, *args)
    b = served(OtherModelStub(letter_or_nothing, "stub-q8_0.gguf"), out / "b", run_env, *args)
    return a, b
