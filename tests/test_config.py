from __future__ import annotations

from pathlib import Path

import pytest

from runlocalai_bench.config import build_config
from runlocalai_bench.errors import ConfigError


def test_flags_beat_environment_beat_preset(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text('limit = 5\nconcurrency = 3\nendpoint = "http://preset:1"\n'
                      '[sampling]\nseed = 7\n')
    env = {"RLA_ENDPOINT": "http://env:2"}
    config = build_config("mmlu", {"concurrency": 2, "limit": None}, preset=str(preset), env=env)
    assert config.limit == 5  # preset only
    assert config.endpoint == "http://env:2"  # env beats preset
    assert config.concurrency == 2  # flag beats preset
    assert config.sampling.seed == 7


def test_shipped_presets_load():
    config = build_config("mmlu", {"endpoint": "http://h:1"}, preset="ci-smoke", env={})
    assert config.limit == 8 and config.data.kind == "bundled"
    lb = build_config("mmlu", {"endpoint": "http://h:1"}, preset="leaderboard", env={})
    assert lb.sampling.cache_prompt is False and lb.concurrency == 1


@pytest.mark.parametrize("flags,needle", [
    ({"endpoint": "http://h:1", "model_path": Path("m.gguf")}, "mutually exclusive"),
    ({"endpoint": "localhost:8080"}, "http(s) URL"),
    ({"endpoint": "http://h:1", "concurrency": 0}, "--concurrency"),
    ({"concurrency": 4}, "in-process"),
    ({"endpoint": "http://h:1", "limit": 0}, "--limit"),
    ({"endpoint": "http://h:1", "prompt_style": "fancy"}, "--prompt-style"),
    ({"endpoint": "http://h:1", "sample": True, "data_dir": "."}, "mutually exclusive"),
    ({"endpoint": "http://h:1", "data_dir": "/no/such/dir"}, "not a directory"),
])
def test_bad_flags_are_user_errors(flags, needle):
    with pytest.raises(ConfigError) as info:
        build_config("mmlu", flags, env={})
    assert needle in info.value.message
    assert info.value.hint


def test_preset_with_unknown_keys_is_refused(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text("temprature = 0.5\n")
    with pytest.raises(ConfigError, match="temprature"):
        build_config("mmlu", {}, preset=str(preset), env={})


def test_non_greedy_sampling_is_refused(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text("[sampling]\ntemperature = 0.7\n")
    with pytest.raises(ConfigError, match="greedily"):
        build_config("mmlu", {}, preset=str(preset), env={})


def test_api_key_comes_from_env_and_is_not_in_repr():
    config = build_config("mmlu", {"endpoint": "http://h:1"}, env={"RLA_API_KEY": "sk-secret"})
    assert config.api_key == "sk-secret"
    assert "sk-secret" not in repr(config)
