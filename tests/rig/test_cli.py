"""`rla rig` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from runlocalai_bench.cli import main
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import free_port


def rla(*args: str) -> int:
    """Run the CLI in this process; its exit status."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_json_in_a_real_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "runlocalai_bench", "rig", "--json"],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    rig = json.loads(proc.stdout)
    assert set(rig) >= {"os", "cpu", "memory_bytes", "gpus", "hardware_slug", "hw_class",
                        "accelerator"}
    assert rig["hardware_slug"]
    assert "runtime" not in rig
    assert proc.stderr == ""


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert rla("rig") == 0
    out = capsys.readouterr().out
    assert "hardware slug" in out
    assert "cores / threads" in out


def test_with_an_endpoint_adds_the_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    server = StubLlamaServer(policy=lambda prompt: "A").start()
    try:
        assert rla("rig", "--endpoint", server.url, "--json") == 0
        payload = json.loads(capsys.readouterr().out)
        assert rla("rig", "--endpoint", server.url) == 0
        human = capsys.readouterr().out
    finally:
        server.stop()
    assert payload["runtime"]["engine"] == "llama.cpp"
    assert payload["runtime"]["slug"] == "llama.cpp-b9999"
    assert payload["hardware_slug"]
    assert f"llama.cpp-b9999 {payload['hardware_slug']}" in human


def test_unreachable_endpoint_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert rla("rig", "--endpoint", f"http://127.0.0.1:{free_port()}", "--json") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert "hint: " in captured.err


def test_endpoint_credentials_are_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    server = StubLlamaServer(policy=lambda prompt: "A").start()
    port = server.url.rsplit(":", 1)[1]
    try:
        for userinfo in ("us3r:PA55W0RD", "T0KENV4LUE"):
            url = f"http://{userinfo}@127.0.0.1:{port}/v1?key=QV4LUE"
            assert rla("rig", "--endpoint", url, "--json") == 0
            captured = capsys.readouterr()
            payload = json.loads(captured.out)
            assert payload["runtime"]["endpoint"] == f"http://[REDACTED]@127.0.0.1:{port}"
            assert rla("rig", "--endpoint", url) == 0
            human = capsys.readouterr()
            for text in (captured.out, captured.err, human.out, human.err):
                for secret in ("us3r", "PA55W0RD", "T0KENV4LUE", "QV4LUE"):
                    assert secret not in text, (secret, text)
            assert f"http://[REDACTED]@127.0.0.1:{port}" in human.out
    finally:
        server.stop()
    closed = f"http://us3r:PA55W0RD@127.0.0.1:{free_port()}/v1?key=QV4LUE"
    assert rla("rig", "--endpoint", closed) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "PA55W0RD" not in err and "us3r" not in err
