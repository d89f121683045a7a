"""One HTTP policy for every engine client's generate requests and for the probe.

    normalise_endpoint   the server root of whatever endpoint a user pasted
    client               httpx clients: bearer auth when there is an api key; a generation
                         waits `timeout` seconds but gives a connection 10 s (request_timeout)
    Retrying             generate's policy. Connection errors, 5xx, 429 and answers that are
                         not a usable completion (200 without `choices`, a wrong shape, an
                         empty or non-JSON body: InvalidAnswer) are retried with exponential
                         backoff (honouring Retry-After), up to `retries` times. One that still
                         fails is fatal for the run (restart the server and `--resume`); a 4xx
                         is an error row for that one sample, as is a read timeout after its
                         retries. A request that met a kept-alive connection the server had
                         already dropped ("Server disconnected without sending a response":
                         llama-server drops one after a response that outlasted its 5 s
                         keep-alive, unannounced) never reached the engine: it is sent again at
                         once, once, and is not a retry. Answers are read through the bounded
                         JSON reader (jsonio), at most MAX_ANSWER_BYTES. Requests to an http://
                         endpoint go through backends/wire.py's lean HTTP/1.1 pool (the request
                         on the wire before the event loop runs anything else); https:// ones,
                         and any behind an https proxy, through httpx's pool.
    FaultBudget          FAULT_BUDGET failed requests in a row, or requests failing in a row for
                         FAULT_WINDOW seconds (--give-up-after), stop the run, whatever --timeout
                         is: a server that stalls or answers nonsense is given up on in bounded
                         time, not after one timeout per remaining question.

Stream's policy (speed runs) is backends/streaming.py's.

Plain HTTP rather than the OpenAI SDK: we must put engine-specific fields on the wire
(`cache_prompt`, `top_k`), read fields the SDK does not model (llama-server's `timings`, its
chat-shaped logprobs on /v1/completions) and own the retry policy, so the raw request is the
simpler tool.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from runlocalai_bench import jsonio
from runlocalai_bench.backends.wire import Wire, json_body, request_headers
from runlocalai_bench.errors import BackendError, EndpointError, RlaError
from runlocalai_bench.redact import redact

# Suffixes people paste with an endpoint; the clients want the server's root.
_OPENAI_SUFFIXES = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/v1")
CONNECT_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 600.0  # a big model on CPU takes minutes per HumanEval+ completion
FAULT_BUDGET = 10  # failed requests in a row before a run stops (FaultBudget)
FAULT_WINDOW = 300.0  # seconds requests may go on failing in a row before a run stops
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a completion with 20 top logprobs per token is < 1 MB
T = TypeVar("T")


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


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY), or None."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.netloc):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    return proxy if not proxy or "://" in proxy else f"http://{proxy}"  # as httpx reads it


def _sniffio_absent_once() -> None:
    """httpcore runs `import sniffio` several times per async request (to tell asyncio from
    trio) and falls back to asyncio when it is missing, as it is with httpx ≥ 0.28. A failed
    import is not cached, so each one searched every sys.path entry again: about a tenth of
    rla's CPU per question against a fast server. Its absence, once found, is recorded the way
    Python itself records a blocked module, so the import fails at once with the same result."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # import raises ImportError


# -- generate: retries and the run's fault budget ------------------------------------------


class InvalidAnswer(RlaError):
    """A 200 whose body is not a usable completion: not JSON rla reads, no `choices`, a field
    of the wrong type. Retried like a 5xx; never scored."""


class FaultBudget:
    """How long requests may go on failing before the run stops, whatever each one costs.

    Every failed request counts (a timeout, a refused or dropped connection, a 5xx or 429, a
    4xx, an invalid answer, each retry included) and any usable answer starts again. The run
    stops when `limit` requests in a row have failed, or when a failed request ends `window`
    seconds or more after the first of the streak was sent. So a server that stalls, refuses
    or answers nonsense ends the run after `limit` quick failures or, when each failure is
    slow, after about `window` seconds plus one more attempt (with --timeout 600 and a server
    that never answers: two timeouts, 20 minutes, not ten): never one timeout per remaining
    question. One failed request alone never stops the run by time, so a request always gets
    a second attempt; the count is never below one question's own attempts (--retries + 1).
    Requests already in flight at --concurrency above 1 still end as they will."""

    def __init__(self, limit: int, window: float = FAULT_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.failures = 0
        self.since = 0.0  # perf_counter when the streak's first failed request was sent
        self.failing_for = 0.0
        self.last: BackendError | None = None

    def failed(self, failure: BackendError, sent: float) -> None:
        """`failure` of a request sent at perf_counter time `sent`."""
        if self.failures == 0:
            self.since = sent
        self.failures += 1
        self.failing_for = time.perf_counter() - self.since
        self.last = failure

    def succeeded(self) -> None:
        self.failures = 0

    @property
    def spent(self) -> bool:
        return self.failures >= self.limit or self.timed_out

    @property
    def timed_out(self) -> bool:
        return self.failures >= 2 and self.failing_for >= self.window

    def stop(self) -> BackendError:
        last = f" (the last: {self.last.message})" if self.last else ""
        over = (f" over {self.failing_for:,.0f} s, past --give-up-after {self.window:g}"
                if self.timed_out and self.failures < self.limit else "")
        return BackendError(
            f"{self.failures} requests in a row failed{over}{last}",
            hint="the run stopped, resumable: once the server answers again (a slow model may"
            " need a longer --timeout), rerun with --resume",
            fatal=True,
        )


class Retrying:
    """POSTs a JSON body to one server root and returns its parsed answer, by the policy above
    and within the run's FaultBudget."""

    def __init__(self, base: str, *, timeout: float, retries: int, backoff: float,
                 api_key: str | None, fault_budget: int = FAULT_BUDGET,
                 fault_window: float = FAULT_WINDOW) -> None:
        self.base = base
        self.retries = retries
        self.backoff = backoff
        self.budget = FaultBudget(max(fault_budget, retries + 1), fault_window)
        proxy = env_proxy(base)
        self._wire: Wire | None = None
        self._transport: httpx.AsyncHTTPTransport | None = None
        if base.startswith("http://") and (proxy is None or proxy.startswith("http://")):
            self._wire = Wire(base, headers=auth_headers(api_key), connect_timeout=CONNECT_TIMEOUT,
                              read_timeout=timeout, max_bytes=MAX_ANSWER_BYTES, proxy=proxy)
        else:  # TLS, or a proxy spoken to over TLS: httpx's pool
            _sniffio_absent_once()
            self._transport = httpx.AsyncHTTPTransport(proxy=proxy)
            self._headers = httpx.Headers(request_headers(auth_headers(api_key)))
            self._timeout = request_timeout(timeout).as_dict()
        self._urls: dict[str, httpx.URL] = {}

    async def post_json(self, path: str, body: Mapping[str, Any],
                        parse: Callable[[Any, float], T]) -> T:
        """`parse(answer, latency_ms)` of the first usable answer (latency of the attempt that
        answered). `parse` raises InvalidAnswer for a body that is not a completion."""
        attempt = 0
        stale_resent = False
        while True:
            if self.budget.spent:  # another request of this run spent it
                raise self.budget.stop()
            retry_after: str | None = None
            started = time.perf_counter()
            try:
                status, retry_after, content = await self._send(path, body)
            except httpx.RemoteProtocolError as exc:
                if not stale_resent and "without sending a response" in str(exc):
                    # A kept-alive connection the server had dropped: the request never
                    # reached it.
                    stale_resent = True
                    continue
                failure = self._unreachable(path, exc, attempt)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                failure = self._unreachable(path, exc, attempt)
            else:
                latency_ms = (time.perf_counter() - started) * 1000.0
                if status == 429 or status >= 500:
                    failure = BackendError(
                        f"{self.base}{path} answered HTTP {status} after {attempt + 1} attempts:"
                        f" {error_text(content, status)}",
                        hint="the server is overloaded or failing; check its log, then --resume",
                        fatal=True,
                    )
                elif status >= 400:
                    refused = BackendError(
                        f"HTTP {status} from {path}: {error_text(content, status)}",
                        hint="the request was refused; the sample is recorded as an error",
                    )
                    self.budget.failed(refused, started)
                    raise self.budget.stop() if self.budget.spent else refused
                else:
                    try:
                        answer = parse(jsonio.loads(
                            content, f"{path}'s answer", max_bytes=MAX_ANSWER_BYTES,
                            error=InvalidAnswer), latency_ms)
                    except InvalidAnswer as exc:
                        failure = BackendError(
                            f"{self.base}{path} gave no usable completion after {attempt + 1}"
                            f" attempts: {exc.message}",
                            hint="is the endpoint an OpenAI-compatible server? check its log,"
                            " then rerun with --resume",
                            fatal=True,
                        )
                    else:
                        self.budget.succeeded()
                        return answer
            self.budget.failed(failure, started)
            if self.budget.spent:
                raise self.budget.stop()
            if attempt >= self.retries:
                raise failure
            await asyncio.sleep(self._delay(attempt, retry_after))
            attempt += 1

    async def _send(self, path: str, body: Mapping[str, Any]) -> tuple[int, str | None, bytes]:
        """Status, Retry-After and body, read no further than MAX_ANSWER_BYTES (+1, so an
        answer over it is refused by size)."""
        if self._wire is not None:
            answer = await self._wire.post(path, json_body(body))
            return answer.status, answer.headers.get("retry-after"), answer.content
        assert self._transport is not None
        url = self._urls.get(path) or self._urls.setdefault(path, httpx.URL(self.base + path))
        request = httpx.Request("POST", url, headers=self._headers, content=json_body(body),
                                extensions={"timeout": self._timeout})
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    break
            return response.status_code, response.headers.get("retry-after"), b"".join(chunks)
        finally:
            await response.aclose()

    def _unreachable(self, path: str, exc: Exception, attempt: int) -> BackendError:
        return BackendError(
            f"{self.base}{path}: {type(exc).__name__}: {str(exc) or 'no response'}"
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
        if self._wire is not None:
            await self._wire.aclose()
        if self._transport is not None:
            await self._transport.aclose()


def error_text(content: bytes, status: int) -> str:
    """What an error answer says: its JSON `error.message`, or the start of its text."""
    try:
        body = jsonio.loads(content, "the error answer", max_bytes=MAX_ANSWER_BYTES)
    except RlaError:
        return (content[:200].decode("utf-8", "replace").strip()
                or httpx.codes.get_reason_phrase(status))
    return error_text_of(body)


def error_text_of(body: Any) -> str:
    """An answer's `error.message` (or `error`, or the whole answer), cut to 300 characters."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    return str(body)[:300]


def json_kind(value: Any) -> str:
    """How an error names a JSON value's type: 'an array', 'null', 'a string' …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"
