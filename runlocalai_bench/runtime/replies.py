"""What every engine reader of the probe shares: the probe's HTTP (each GET asked once, every
transport failure an EndpointError with a hint, every reply read through the bounded JSON
reader), and readers of the servers' JSON replies."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from runlocalai_bench import jsonio
from runlocalai_bench.errors import EndpointError, RlaError
from runlocalai_bench.redact import redact
from runlocalai_bench.runtime.runners import RunnerSpec, ports_hint

MISSING = object()
MAX_REPLY_BYTES = 16 * 1024 * 1024  # /props with a long chat template is tens of KB
# How resolver failures read in httpx's ConnectError on Linux, macOS and Windows.
_DNS_FAILURES = ("name or service", "nodename", "getaddrinfo", "name resolution", "no address")


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    text: str
    json: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def loading(self) -> bool:
        return self.status == 503 and "loading" in self.text.lower()


class ProbeHttp:
    """GETs (cached: each path is asked once per probe) and POSTs against one server root,
    turning transport failures into EndpointErrors."""

    def __init__(self, client: httpx.Client, base: str, timeout: float) -> None:
        self._client = client
        self.base = base
        self._timeout = timeout
        self._cache: dict[str, Reply] = {}

    def get(self, path: str) -> Reply:
        if path not in self._cache:
            self._cache[path] = self._send("GET", path)
        return self._cache[path]

    def post(self, path: str, body: Mapping[str, Any]) -> Reply:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Reply:
        try:
            response = self._client.request(
                method, self.base + path, json=body, timeout=self._timeout
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, self.base, self._timeout) from None
        text = response.text
        content_type = response.headers.get("content-type", "")
        try:  # a reply that is not JSON rla reads (deep, NaN, huge) is read as no JSON
            parsed = jsonio.loads(response.content, f"{path}'s reply",
                                  max_bytes=MAX_REPLY_BYTES) if text else None
        except RlaError:
            parsed = None
        reply = Reply(response.status_code, content_type, text, parsed)
        if reply.loading:
            raise EndpointError(
                f"the server at {redact(self.base)} is still loading its model "
                f"({method} {path} answered 503)",
                hint="wait until it has loaded (its /health answers 200), then run again",
            )
        if reply.status in (401, 403):
            raise EndpointError(
                f"the server at {redact(self.base)} refused rla without an API key "
                f"({method} {path} answered {reply.status})",
                hint="set RLA_API_KEY to the server's API key",
            )
        return reply


def transport_error(exc: httpx.TransportError, base: str, timeout: float) -> EndpointError:
    where = redact(base)
    detail = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return EndpointError(
            f"the server at {where} did not answer within {timeout:g} s",
            hint="check that it is not stuck or overloaded; a remote one may need a longer timeout",
        )
    if isinstance(exc, httpx.ConnectError):
        if any(s in detail for s in _DNS_FAILURES):
            return EndpointError(
                f"cannot resolve the host of {where}",
                hint="check the host name in --endpoint (127.0.0.1 for a local server)",
            )
        return EndpointError(
            f"cannot connect to {where} (connection refused)"
            if "refused" in detail
            else f"cannot connect to {where} ({exc})",
            hint=f"is the server running, and on this port? {ports_hint()}",
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return EndpointError(f"unsupported endpoint {where}", hint="give an http:// URL")
    return EndpointError(
        f"{where} does not speak HTTP ({type(exc).__name__}: {exc})",
        hint=f"check the port: is another program listening there? {ports_hint()}",
    )


def dig(obj: Any, dotted: str) -> Any:
    """obj["a"]["b"][0] for "a.b.0"; MISSING when any step is absent."""
    for part in dotted.split("."):
        if isinstance(obj, Mapping) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return MISSING
    return obj


def not_openai(http: ProbeHttp) -> EndpointError:
    reply = http.get("/v1/models")
    where = redact(http.base)
    if "html" in reply.content_type.lower() or reply.text.lstrip()[:1] == "<":
        what = "a web page (HTML)"
    elif reply.ok:
        what = "something other than a model list"
    else:
        what = f"HTTP {reply.status}"
    return EndpointError(
        f"{where} answers, but not as an OpenAI-compatible server (GET /v1/models gave {what})",
        hint=f"point --endpoint at the inference server itself; {ports_hint()}",
    )


def openai_models(http: ProbeHttp, spec: RunnerSpec) -> list[Mapping[str, Any]]:
    """The `data` list of the OpenAI model listing every engine must serve."""
    reply = http.get(spec.models_path)
    data = reply.json.get("data") if reply.ok and isinstance(reply.json, Mapping) else None
    if not isinstance(data, list):
        raise not_openai(http)
    return [entry for entry in data if isinstance(entry, Mapping)]


def pick(
    entries: Sequence[Mapping[str, Any]],
    model: str | None,
    spec: RunnerSpec,
    http: ProbeHttp,
    *,
    prefer: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Mapping[str, Any]:
    """The model entry requests will reach: the one named `model`, else the preferred or first."""
    if model is not None:
        for entry in entries:
            if entry.get("id") == model:
                return entry
        if spec.model_must_match:
            served = ", ".join(str(e.get("id")) for e in entries[:10]) or "none"
            raise EndpointError(
                f"{spec.display_name} at {redact(http.base)} has no model {model!r}",
                hint=f"models it serves: {served}",
            )
    if prefer is not None:
        for entry in entries:
            if prefer(entry):
                return entry
    return entries[0] if entries else {}


def version_of(http: ProbeHttp, spec: RunnerSpec) -> str | None:
    if not (spec.version_path and spec.version_field):
        return None
    reply = http.get(spec.version_path)
    value = dig(reply.json, spec.version_field) if reply.ok else MISSING
    if not isinstance(value, str) or not value.strip() or value in spec.version_unknown:
        return None
    return value.strip()


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


SCALAR = (str, int, float, bool)


def scalars(values: Mapping[str, Any], *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON scalars (and lists of scalars) of a mapping: sampler settings as sent."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in skip:
            continue
        if value is None or isinstance(value, SCALAR):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, SCALAR) for v in value):
            out[key] = list(value)
    return out
