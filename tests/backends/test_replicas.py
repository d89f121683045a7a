"""What makes two probed endpoints replicas of one model (backends/replicas.py): the same
weights, runtime build and server settings; names may differ."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from runlocalai_bench.backends.replicas import check_replicas, differences
from runlocalai_bench.errors import ConfigError
from runlocalai_bench.types import ModelInfo, RuntimeInfo

FIRST = RuntimeInfo(
    engine="llama.cpp", version="b6500", slug="llama.cpp-b6500", endpoint="http://a:8080",
    build="b6500-5e9b8fd", commit="5e9b8fd", slots=1, n_ctx=4096,
    model=ModelInfo(id="gemma.gguf", path="/m/gemma.gguf", sha256="ab" * 32,
                    quantization="Q4_K_M", parameters=268_098_176, size_bytes=253_000_000),
    sampler_defaults={"temperature": 0.8}, settings={"launch": "llama-server …",
                                                     "model_alias": "gemma"},
)


def test_names_and_places_may_differ():
    other = replace(FIRST, endpoint="http://b:8080",
                    model=replace(FIRST.model, id="g", path="/other/place/gemma.gguf"),
                    settings={**FIRST.settings, "model_alias": "g"})
    assert differences(FIRST, other) == []
    check_replicas(["http://a:8080", "http://b:8080"], [FIRST, other])


@pytest.mark.parametrize(("name", "other"), [
    ("weights sha256", replace(FIRST, model=replace(FIRST.model, sha256="cd" * 32))),
    ("quantization", replace(FIRST, model=replace(FIRST.model, quantization="Q6_K"))),
    ("runtime version", replace(FIRST, version="b6501", build="b6501-5e9b8fd")),
    ("context (n_ctx)", replace(FIRST, n_ctx=8192)),
    ("slots", replace(FIRST, slots=4)),
    ("sampler defaults", replace(FIRST, sampler_defaults={"temperature": 0.7})),
    ("server settings", replace(FIRST, settings={"launch": "llama-server -c 8192"})),
])
def test_each_defining_field_is_named(name, other):
    assert differences(FIRST, other)[0][0] == name
    with pytest.raises(ConfigError, match=re.escape(f"not a replica of http://a:8080: {name}")):
        check_replicas(["http://a:8080", "http://b:8080"], [FIRST, other])
