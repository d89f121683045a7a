"""One HTTP policy for every engine client and for the probe.

    normalise_endpoint   the server root of whatever endpoint a user pasted
    client, async_client httpx clients: bearer auth when there is an api key; a generation
                         waits `timeout` seconds but gives a connection 10 s (request_timeout)
    Retrying             generate's policy. Connection errors, 5xx and 429 are retried with
                         exponential backoff (honouring Retry-After), up to `retries` times. A
                         connection that still fails is fatal for the run (the server is gone:
                         restart it and `--resume`); a 4xx is an error row for that one sample.
                         A request that met a kept-alive connection the server had already
                         dropped ("Server disconnected without sending a response": llama-server
                         drops one after a response that outlasted its 5 s keep-alive,
                         unannounced) never reached the engine: it is sent again at once, once,
                         and is not a retry.
    fresh_stream         stream's policy. No request is retried (a retry would hide in the
                         timings), and each goes on a connection of its own (`Connection:
                         close`), so none meets a connection llama-server dropped.

Plain httpx rather than the OpenAI SDK: we must put engine-specific fields on the wire
(`cache_prompt`, `top_k`), read fields the SDK does not model (llama-server's `timings`, its
chat-shaped logprobs on /v1/completions) and own the retry policy, so the raw request is the
simpler tool.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from runlocalai_bench.errors import BackendError, EndpointError
from runlocalai_bench.redact import redact

# Suffixes people paste with an endpoint; the clients want the server's root.
_OPENAI_SUFFIXES = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/v1")
CONNECT_TIMEOUT = 10.0


def normalise_endpoint(url: str) -> str:
    """The server root of an endpoint given as `http://host:port`, `host:port`,
    `http://host:port/v1` or a full `/v1/...` URL: scheme, host, port and any proxy prefix,
    without a trailing slash or OpenAI suffix."""
    text = url.strip()
    if not text:
        raise EndpointError(
            "the endpoint URL is empty", hint="e.g. --endpoint http://127.0.0.1:8080"
        )
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise EndpointError(
            f"unsupported endpoint scheme {parts.scheme!r} in {redact(url)}",
            hint="give an http:// or https:// URL, e.g. http://127.0.0.1:8080",
        )
    if not parts.hostname:
        raise EndpointError(f"no host in endpoint {redact(url)}", hint="e.g. http://127.0.0.1:8080")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise EndpointError(
            f"invalid port in endpoint {redact(url)}", hint="e.g. http://127.0.0.1:8080"
        ) from None
    path = parts.path.rstrip("/")
    for suffix in _OPENAI_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def request_timeout(seconds: float) -> httpx.Timeout:
    """A generation may take `seconds`; a connection that takes 10 s is not coming."""
    return httpx.Timeout(seconds, connect=CONNECT_TIMEOUT)


def client(*, timeout: float | httpx.Timeout, api_key: str | None,
           base: str = "") -> httpx.Client:
    return httpx.Client(base_url=base, headers=auth_headers(api_key), timeout=timeout)


def async_client(*, timeout: float | httpx.Timeout, api_key: str | None,
                 base: str = "") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers=auth_headers(api_key), timeout=timeout)


# -- generate: retries ---------------------------------------------------------------------


class Retrying:
    """POSTs a JSON body to one server root and returns the JSON answer, by the policy above."""

    def __init__(self, base: str, *, timeout: float, retries: int, backoff: float,
                 api_key: str | None) -> None:
        self.base = base
        self.retries = retries
        self.backoff = backoff
        self.client = async_client(base=base, timeout=request_timeout(timeout),
                                   api_key=api_key)

    async def post_json(self, path: str, body: Mapping[str, Any]) -> tuple[Any, float]:
        """The decoded answer and its latency in ms (of the attempt that answered)."""
        attempt = 0
        stale_resent = False
        while True:
            started = time.perf_counter()
            try:
                response = await self.client.post(path, json=body)
            except httpx.RemoteProtocolError as exc:
                if not stale_resent and "without sending a response" in str(exc):
                    # A kept-alive connection the server had dropped: the request never
                    # reached it.
                    stale_resent = True
                    continue
                if attempt >= self.retries:
                    raise self._unreachable(path, exc, attempt) from exc
                await asyncio.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt >= self.retries:
                    raise self._unreachable(path, exc, attempt) from exc
                await asyncio.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            latency_ms = (time.perf_counter() - started) * 1000.0
            status = response.status_code
            if status == 429 or status >= 500:
                if attempt >= self.retries:
                    raise BackendError(
                        f"{self.base}{path} answered HTTP {status} after {attempt + 1} attempts:"
                        f" {error_text(response)}",
                        hint="the server is overloaded or failing; check its log, then --resume",
                        fatal=True,
                    )
                await asyncio.sleep(self._delay(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            if status >= 400:
                raise BackendError(
                    f"HTTP {status} from {path}: {error_text(response)}",
                    hint="the request was refused; the sample is recorded as an error",
                )
            try:
                return response.json(), latency_ms
            except ValueError as exc:
                raise BackendError(
                    f"{path} returned a body that is not JSON",
                    hint="is the endpoint an OpenAI-compatible server?",
                    fatal=True,
                ) from exc

    def _unreachable(self, path: str, exc: Exception, attempt: int) -> BackendError:
        return BackendError(
            f"{self.base}{path}: {type(exc).__name__}: {exc or 'no response'}"
            f" (after {attempt + 1} attempts)",
            hint="is the server still running? restart it and rerun with --resume",
            fatal=not isinstance(exc, httpx.ReadTimeout),
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return self.backoff * (2**attempt) * (1 + random.random() * 0.25)

    async def aclose(self) -> None:
        await self.client.aclose()


def error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    return str(body)[:300]


# -- stream: one connection per request, no retries ----------------------------------------


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

    def close(self) -> None:
        self.client.close()
