"""Real runs to report on: `run_benchmark` in process against the instant stub llama-server
over real HTTP (tests/review/conftest.py's helpers), with the real scoring: MMLU's bundled
sample (57 subjects, 4 categories), HumanEval+'s bundled sample with one program per outcome
run in the real sandbox, selfcheck runs to compare, and speed runs from the speed tests'
streaming stub. Session runs are copied into each test that changes them."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from runlocalai_bench import ui
from runlocalai_bench.backends.factory import open_backend
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.config import build_config
from runlocalai_bench.datasets._common import BUNDLED_DIR
from runlocalai_bench.pipeline import run_benchmark
from runlocalai_bench.report import build_report
from runlocalai_bench.report.load import load_path
from runlocalai_bench.report.page import render
from runlocalai_bench.results import rundir
from runlocalai_bench.rig import detect_rig
from tests.review.conftest import (  # noqa: F401 (fixtures)
    Policy,
    _original,
    copy_run,
    flags_for,
    make_run,
    original,
    stub_server,
)
from tests.speed.conftest import cpu_rig, gpu_rig, serving, speed  # noqa: F401 (fixtures)


def bench(slug: str, out: Path, policy: Policy, model_file: str | None = None,
          **extra: Any) -> rundir.RunDir:
    """A finished run of `slug` made by the real pipeline against the stub server (serving
    `model_file`, another quantization, when given)."""
    with stub_server(policy, model_file) as server:
        config = build_config(slug, flags_for(server.url, out, **extra), env={},
                              argv=("rla", "bench", slug, "--endpoint", server.url))
        outcome = run_benchmark(config, RichRunUI(ui.stdout_console(), ui.stderr_console()),
                                open_backend=open_backend, detect_rig=detect_rig)
    return outcome.run


def by_length(prompt: str) -> str:
    return "ABCD"[len(prompt) % 4]


def _canonical(task: str) -> str:
    for line in (BUNDLED_DIR / "humanevalplus-sample.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["task_id"] == task:
            return str(row["canonical_solution"])
    raise KeyError(task)


# One program per outcome the browser filters on (the stub puts a space before the text, so
# each starts with a line break).
PROGRAMS = {
    "def truncate_number(": "\n    return number - int(number) if number < 200 else 0.0\n",
    "def find_zero(": _canonical("HumanEval/32"),
    "def car_race_collision(": "\n    while True:\n        pass\n",
    "def fib(": "\n    import os\n    os.kill(os.getpid(), 9)\n",
    "def fibfib(": "\n    return None\n",
}
CODE_OUTCOMES = {"HumanEval/2": "plus-fail", "HumanEval/32": "correct",
                 "HumanEval/41": "timeout", "HumanEval/55": "sandbox-kill",
                 "HumanEval/63": "base-fail"}


def programs(prompt: str) -> str:
    return next(text for name, text in PROGRAMS.items() if name in prompt)


CANONICAL = {"def truncate_number(": _canonical("HumanEval/2"),
             "def find_zero(": _canonical("HumanEval/32"),
             "def car_race_collision(": _canonical("HumanEval/41"),
             "def fib(": _canonical("HumanEval/55"), "def fibfib(": _canonical("HumanEval/63")}


def canonical(prompt: str) -> str:
    return next(text for name, text in CANONICAL.items() if name in prompt)


@pytest.fixture(scope="session")
def _mmlu(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    return bench("mmlu", tmp_path_factory.mktemp("mmlu"), by_length, sample=True)


@pytest.fixture
def mmlu(_mmlu: rundir.RunDir, tmp_path: Path) -> rundir.RunDir:
    """MMLU's bundled sample (2 questions of each of 57 subjects), answered by prompt length."""
    return copy_run(_mmlu, tmp_path / "mmlu")


@pytest.fixture(scope="session")
def humaneval(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    """HumanEval+'s bundled sample: one pass, a plus-only failure, a timeout, a program that
    kills itself, a base failure (read only: tests copy it to change it)."""
    return bench("humaneval-plus", tmp_path_factory.mktemp("humaneval"), programs, sample=True)


@pytest.fixture(scope="session")
def selfcheck(tmp_path_factory: pytest.TempPathFactory) -> rundir.RunDir:
    """A 12-question selfcheck run of the alternating stub (read only)."""
    return make_run(tmp_path_factory.mktemp("selfcheck"))


def page_of(*paths: Path) -> str:
    return render(build_report([load_path(p) for p in paths]))


class Page(HTMLParser):
    """The page's elements as (tag, attributes, text inside it), and its scripts' bodies."""

    VOID = frozenset({"meta", "input", "br", "hr", "img", "link", "col", "wbr"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: list[int] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), []))
        if tag not in self.VOID:
            self._open.append(len(self.elements) - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), []))

    def handle_data(self, data: str) -> None:
        if self._open and self.elements[self._open[-1]][0] == "script":
            self.scripts.append((self.elements[self._open[-1]][1], data))
        for index in self._open:
            self.elements[index][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self.elements[self._open.pop()][0] == tag:
                break

    def find(self, **attrs: str) -> list[tuple[str, dict[str, str | None], str]]:
        return [(tag, a, "".join(text)) for tag, a, text in self.elements
                if all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_class(self, name: str) -> list[tuple[str, dict[str, str | None], str]]:
        return [(tag, a, "".join(text)) for tag, a, text in self.elements
                if name in (a.get("class") or "").split()]

    def data(self) -> Any:
        (body,) = [text for attrs, text in self.scripts if attrs.get("id") == "report-data"]
        return json.loads(body)
