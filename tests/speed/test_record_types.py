"""A real speed run's record.json through the typed record: byte for byte, split runs too."""

from __future__ import annotations

import json

import pytest

from runlocalai_bench.results.recordtypes import Record, Speed
from tests.support.streaming import StreamingLlamaServer


@pytest.mark.parametrize("profile", ["standard", "pp512-tg128"])
def test_a_speed_runs_record_round_trips_byte_for_byte(profile, serving, speed, gpu_rig):
    server = serving(StreamingLlamaServer(decode_tps=lambda n: 400.0))
    run = speed(server.url, gpu_rig, profile=profile).run
    text = run.record.read_text(encoding="utf-8")

    record = Record.from_json(json.loads(text))
    assert isinstance(record.body, Speed) and record.is_speed
    section = record.body.speed
    assert section.profile == profile and section.split == (profile == "pp512-tg128")
    assert all((run.raw.prefill is not None) == section.split for run in section.runs)
    assert record.request is not None and record.request.speed is not None
    assert (record.request.benchmark, record.request.speed.profile) == ("speed", profile)
    assert record.request.speed.n_predict == section.n_predict and record.request.data is None
    assert json.dumps(record.to_json(), indent=2, ensure_ascii=False) + "\n" == text
