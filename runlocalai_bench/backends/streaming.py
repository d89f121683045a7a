"""Stream's HTTP policy (speed runs): each streamed POST goes on a connection of its own
(`Connection: close`), so none meets a kept-alive connection llama-server dropped, and none is
retried (a retry would hide in the timings). A failure stops the speed run with one `error:`
line; events are read through the bounded JSON reader."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from runlocalai_bench import jsonio
from runlocalai_bench.backends.http import (
    MAX_ANSWER_BYTES,
    client,
    json_kind,
    normalise_endpoint,
    request_timeout,
)
from runlocalai_bench.errors import BackendError
from runlocalai_bench.redact import redact


class Streaming:
    """Streamed POSTs against one server root, each on a fresh connection, never retried."""

    def __init__(self, endpoint: str, *, timeout: float, api_key: str | None) -> None:
        self.base = normalise_endpoint(endpoint)
        self.client = client(base=self.base, timeout=request_timeout(timeout), api_key=api_key)

    @contextmanager
    def stream(self, path: str, body: Mapping[str, Any]) -> Iterator[tuple[httpx.Response, float]]:
        """POST `body` for a streamed answer on a fresh connection: the response (its headers
        read) and the perf_counter time the request was sent."""
        request = self.client.build_request("POST", path, json=body,
                                            headers={"Connection": "close"})
        started = time.perf_counter()
        response = self.client.send(request, stream=True)
        try:
            yield response, started
        finally:
            response.close()

    def fail(self, path: str, exc: Exception) -> BackendError:
        return BackendError(f"{redact(self.base)}{path}: {type(exc).__name__}: {exc}",
                            hint="is the server still running? start it and run again",
                            fatal=True)

    def refused(self, path: str, response: httpx.Response) -> BackendError:
        response.read()
        text = response.text[:300].strip() or response.reason_phrase
        return BackendError(f"HTTP {response.status_code} from {path}: {redact(text)}",
                            hint="check the server's log; the speed run stopped", fatal=True)

    def unusable(self, path: str, why: str) -> BackendError:
        return BackendError(f"{redact(self.base)}{path}: {why}", hint=_NOT_THE_SERVER,
                            fatal=True)

    def event(self, payload: str, path: str) -> dict[str, Any]:
        """One streamed event (a server-sent event's data, an NDJSON line) through the bounded
        reader: a JSON object, else a BackendError that stops the speed run."""
        try:
            event = jsonio.loads(payload, f"an event {path} streamed",
                                 max_bytes=MAX_ANSWER_BYTES, error=BackendError)
        except BackendError as exc:
            raise self.unusable(path, exc.message) from None
        if not isinstance(event, dict):
            raise self.unusable(path, f"an event is {json_kind(event)}, not an object")
        return event

    def close(self) -> None:
        self.client.close()


_NOT_THE_SERVER = ("is the endpoint the server it claims to be? check its log; the speed run"
                   " stopped")
