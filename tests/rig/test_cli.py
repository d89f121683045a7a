"""`rla rig` as a user runs it."""

from __future__ import annotations

import json

from tests.support.cli import assert_user_error, rla
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import free_port


def test_json_in_a_real_process() -> None:
    proc = rla("rig", "--json", process=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rig = json.loads(proc.stdout)
    assert set(rig) >= {"os", "cpu", "memory_bytes", "gpus", "hardware_slug", "hw_class",
                        "accelerator"}
    assert rig["hardware_slug"]
    assert "runtime" not in rig
    assert proc.stderr == ""


def test_human_output() -> None:
    ran = rla("rig")
    assert ran.returncode == 0, ran.stderr
    assert "hardware slug" in ran.stdout
    assert "cores / threads" in ran.stdout


def test_with_an_endpoint_adds_the_runtime() -> None:
    server = StubLlamaServer(policy=lambda prompt: "A").start()
    try:
        as_json = rla("rig", "--endpoint", server.url, "--json")
        human = rla("rig", "--endpoint", server.url)
    finally:
        server.stop()
    assert as_json.returncode == 0 and human.returncode == 0, as_json.stderr + human.stderr
    payload = json.loads(as_json.stdout)
    assert payload["runtime"]["engine"] == "llama.cpp"
    assert payload["runtime"]["slug"] == "llama.cpp-b9999"
    assert payload["hardware_slug"]
    assert f"llama.cpp-b9999 {payload['hardware_slug']}" in human.stdout


def test_unreachable_endpoint_is_a_user_error() -> None:
    ran = rla("rig", "--endpoint", f"http://127.0.0.1:{free_port()}", "--json")
    assert_user_error(ran)
    assert ran.returncode == 1
    assert ran.stdout == ""


def test_endpoint_credentials_are_never_printed() -> None:
    server = StubLlamaServer(policy=lambda prompt: "A").start()
    port = server.url.rsplit(":", 1)[1]
    try:
        for userinfo in ("us3r:PA55W0RD", "T0KENV4LUE"):
            url = f"http://{userinfo}@127.0.0.1:{port}/v1?key=QV4LUE"
            as_json = rla("rig", "--endpoint", url, "--json")
            assert as_json.returncode == 0, as_json.stderr
            payload = json.loads(as_json.stdout)
            assert payload["runtime"]["endpoint"] == f"http://[REDACTED]@127.0.0.1:{port}"
            human = rla("rig", "--endpoint", url)
            assert human.returncode == 0, human.stderr
            for text in (as_json.stdout, as_json.stderr, human.stdout, human.stderr):
                for secret in ("us3r", "PA55W0RD", "T0KENV4LUE", "QV4LUE"):
                    assert secret not in text, (secret, text)
            assert f"http://[REDACTED]@127.0.0.1:{port}" in human.stdout
    finally:
        server.stop()
    closed = f"http://us3r:PA55W0RD@127.0.0.1:{free_port()}/v1?key=QV4LUE"
    ran = rla("rig", "--endpoint", closed)
    assert ran.returncode == 1
    assert ran.stderr.startswith("error: ")
    assert "PA55W0RD" not in ran.stderr and "us3r" not in ran.stderr
