"""A version 2 record's reproduction command read back (results/command.py): what the writers
write comes back as the same slug and flags; anything they do not write is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.results.command import parse_bench_command
from runlocalai_bench.results.record import reproduction_command
from runlocalai_bench.speed import record as speed_record
from runlocalai_bench.speed.spec import load_speed_plan


def test_the_reproduction_command_is_read_back():
    slug, flags = parse_bench_command(
        "rla bench mmlu --endpoint http://h:8080 --model m --prompt-style chat --limit 40 "
        "--limit-per-subtask 5 --concurrency 2 --seed 7 --n-ctx 2048")
    assert slug == "mmlu"
    assert flags == {"limit": 40, "limit_per_subtask": 5, "concurrency": 2, "n_ctx": 2048}
    with pytest.raises(ConfigError, match="not an `rla bench` command"):
        parse_bench_command("curl http://evil")
    with pytest.raises(ConfigError, match="does not know"):
        parse_bench_command("rla bench mmlu --frobnicate 3")


@pytest.mark.parametrize("bad", ["rla bench mmlu --limit many", "rla bench mmlu --limit",
                                 "rla bench mmlu humaneval-plus", "rla bench --limit 3",
                                 "rla bench mmlu --sample=yes"])
def test_what_the_writers_never_write_is_refused(bad):
    with pytest.raises(ConfigError, match="does not know") as caught:
        parse_bench_command(bad)
    assert caught.value.hint == "reproduce with the rla version that made the record"


def test_a_damaged_command_is_refused():
    with pytest.raises(ConfigError, match="cannot be parsed"):
        parse_bench_command("rla bench mmlu --model 'unclosed")


def test_what_a_scored_run_writes_reads_back(tmp_path: Path):
    endpoint = build_config("mmlu", {"endpoint": "http://h:8080", "model": "a model",
                                     "limit": 40, "limit_per_subtask": 5, "concurrency": 2,
                                     "sample": True, "allow_unpinned": True,
                                     "cache_prompt": True}, env={})
    assert parse_bench_command(reproduction_command(endpoint, "chat")) == (
        "mmlu", {"limit": 40, "limit_per_subtask": 5, "concurrency": 2, "n_ctx": None})
    in_process = build_config("humaneval-plus", {"model_path": tmp_path / "m -x.gguf",
                                                 "data_dir": tmp_path, "n_ctx": 4096}, env={})
    assert parse_bench_command(reproduction_command(in_process, "completion")) == (
        "humaneval-plus", {"limit": None, "limit_per_subtask": None,
                           "concurrency": in_process.concurrency, "n_ctx": 4096})


def test_what_a_speed_run_writes_reads_back(tmp_path: Path):
    config = build_config("speed", {"model_path": tmp_path / "m.gguf", "n_ctx": 2048,
                                    "n_threads": 2}, env={})
    plan = load_speed_plan("standard", n_predict=8, prompt="--limit 3 'quoted' prompt")
    assert parse_bench_command(speed_record.reproduction_command(config, plan)) == (
        "speed", {"limit": None, "limit_per_subtask": None, "concurrency": None, "n_ctx": 2048})
