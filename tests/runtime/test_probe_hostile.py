"""The probe reads every reply through the bounded JSON reader: a reply nested 100,000 deep, or
holding NaN, is read as no JSON (json.loads raised RecursionError: rla's 'internal error')."""

from __future__ import annotations

import pytest

from runlocalai_bench.errors import EndpointError
from runlocalai_bench.runtime.probe import probe_endpoint
from tests.support.llama_stub import StubLlamaServer
from tests.support.servers import Reply, Seen

DEEP = ("[" * 100_000 + "]" * 100_000).encode()


class HostileOn(StubLlamaServer):
    """The stub llama-server, but `path` answers `body` with a 200."""

    def __init__(self, path: str, body: bytes) -> None:
        super().__init__(policy=lambda prompt: "A")
        self.path, self.body = path, body

    def handle(self, seen: Seen) -> Reply:
        if seen.path.split("?")[0] == self.path:
            return Reply(200, self.body, {"Content-Type": "application/json"})
        return super().handle(seen)


def probe(stub: StubLlamaServer):
    server = stub.start()
    try:
        return probe_endpoint(server.url, model=None, api_key=None)
    finally:
        server.stop()


@pytest.mark.parametrize("body", [DEEP, b'{"data": [{"id": "m", "meta": {"size": NaN}}]}'])
def test_a_hostile_model_list_is_not_an_openai_server(body):
    with pytest.raises(EndpointError, match="not as an OpenAI-compatible server"):
        probe(HostileOn("/v1/models", body))


def test_hostile_props_are_read_as_none_and_the_server_stays_generic():
    runtime = probe(HostileOn("/props", DEEP))
    assert runtime.engine == "openai-compatible" and runtime.model.id == "stub-q4_k_m.gguf"
