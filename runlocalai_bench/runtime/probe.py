"""Identify the inference server behind an endpoint and what it is serving.

`probe_endpoint` asks the server the questions each runtime answers (the facts live in
`runners/*.toml`: which path and keys recognise it, where its version is) and returns a
RuntimeInfo: engine, version and build, the runtime slug the leaderboard shows
(`llama.cpp-b6500`, `ollama-0.24.0`), the model's parameters, quantization and context, slots,
sampler defaults and the chat template's sha256.

    llama.cpp llama-server   GET /props, GET /v1/models (meta), GET /health
    Ollama                   GET /api/version, POST /api/show
    vLLM                     GET /version, GET /v1/models (max_model_len)
    LM Studio                GET /api/v0/models
    llama-cpp-python server  GET /openapi.json
    anything else            GET /v1/models

Every failure a user can cause is an EndpointError with a hint: nothing listening, a name
that does not resolve, a server still loading its model, a server that wants an API key, and
a server that answers but does not speak the OpenAI API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from runlocalai_bench.errors import EndpointError, ModelFileError
from runlocalai_bench.redact import redact
from runlocalai_bench.runtime.gguf import (
    GGUFInfo,
    normalise_quantization,
    parse_size_label,
    read_gguf,
    template_sha256,
)
from runlocalai_bench.specs import load_all
from runlocalai_bench.types import ModelInfo, RuntimeInfo

# Suffixes people paste with an endpoint; the probe wants the server's root.
_OPENAI_SUFFIXES = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/v1")
_MISSING = object()
# How resolver failures read in httpx's ConnectError on Linux, macOS and Windows.
_DNS_FAILURES = ("name or service", "nodename", "getaddrinfo", "name resolution", "no address")


# ---------------------------------------------------------------------------------------------
# Runner specs


@dataclass(frozen=True)
class RunnerSpec:
    """The recognition facts of one runtime, from runners/<name>.toml."""

    name: str
    engine: str
    display_name: str
    probe_order: int
    identify_path: str
    identify_keys: tuple[str, ...] = ()
    identify_values: Mapping[str, Any] = field(default_factory=dict)
    version_path: str | None = None
    version_field: str | None = None
    version_unknown: tuple[str, ...] = ()
    slug_format: str = "{engine}-{version}"
    models_path: str = "/v1/models"
    health_path: str = "/health"
    model_must_match: bool = False
    default_port: int | None = None

    def slug(self, version: str | None) -> str:
        return self.slug_format.format(engine=self.engine, version=version or "unknown")


@cache
def runner_specs() -> tuple[RunnerSpec, ...]:
    """Every runner spec that can be probed for, in probe order."""
    specs = []
    for name, raw in load_all("runners").items():
        if "identify_path" not in raw:
            continue
        specs.append(
            RunnerSpec(
                name=name,
                engine=raw["engine"],
                display_name=raw.get("display_name", name),
                probe_order=int(raw.get("probe_order", 50)),
                identify_path=raw["identify_path"],
                identify_keys=tuple(raw.get("identify_keys", ())),
                identify_values=dict(raw.get("identify_values", {})),
                version_path=raw.get("version_path"),
                version_field=raw.get("version_field"),
                version_unknown=tuple(raw.get("version_unknown", ())),
                slug_format=raw.get("slug_format", "{engine}-{version}"),
                models_path=raw.get("models_path", "/v1/models"),
                health_path=raw.get("health_path", "/health"),
                model_must_match=bool(raw.get("model_must_match", False)),
                default_port=raw.get("default_port"),
            )
        )
    return tuple(sorted(specs, key=lambda s: (s.probe_order, s.name)))


def _ports_hint() -> str:
    ports = [f"{s.display_name} {s.default_port}" for s in runner_specs() if s.default_port]
    return "default ports: " + ", ".join(ports)


# ---------------------------------------------------------------------------------------------
# Endpoint URLs


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


# ---------------------------------------------------------------------------------------------
# HTTP


@dataclass(frozen=True)
class _Reply:
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


class _Http:
    """GETs (cached: each path is asked once per probe) and POSTs against one server root,
    turning transport failures into EndpointErrors."""

    def __init__(self, client: httpx.Client, base: str, timeout: float) -> None:
        self._client = client
        self.base = base
        self._timeout = timeout
        self._cache: dict[str, _Reply] = {}

    def get(self, path: str) -> _Reply:
        if path not in self._cache:
            self._cache[path] = self._send("GET", path)
        return self._cache[path]

    def post(self, path: str, body: Mapping[str, Any]) -> _Reply:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> _Reply:
        try:
            response = self._client.request(
                method, self.base + path, json=body, timeout=self._timeout
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc, self.base, self._timeout) from None
        text = response.text
        content_type = response.headers.get("content-type", "")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        reply = _Reply(response.status_code, content_type, text, parsed)
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


def _transport_error(exc: httpx.TransportError, base: str, timeout: float) -> EndpointError:
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
            hint=f"is the server running, and on this port? {_ports_hint()}",
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return EndpointError(f"unsupported endpoint {where}", hint="give an http:// URL")
    return EndpointError(
        f"{where} does not speak HTTP ({type(exc).__name__}: {exc})",
        hint=f"check the port: is another program listening there? {_ports_hint()}",
    )


@contextmanager
def _session(
    client: httpx.Client | None, timeout: float, api_key: str | None
) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(timeout=timeout, headers=headers) as own:
        yield own


def _dig(obj: Any, dotted: str) -> Any:
    """obj["a"]["b"][0] for "a.b.0"; _MISSING when any step is absent."""
    for part in dotted.split("."):
        if isinstance(obj, Mapping) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return _MISSING
    return obj


# ---------------------------------------------------------------------------------------------
# Probing


def probe_endpoint(
    url: str,
    *,
    model: str | None = None,
    timeout: float = 5.0,
    client: httpx.Client | None = None,
    api_key: str | None = None,
) -> RuntimeInfo:
    """Identify the server at `url` and describe the runtime and model it serves.

    `model` is the name requests will use; servers that serve several models (Ollama, vLLM,
    LM Studio) are asked about that one and an unknown name is an error. Pass `client` to
    reuse a configured httpx client (its headers, e.g. auth, are used as they are)."""
    base = normalise_endpoint(url)
    with _session(client, timeout, api_key) as session:
        http = _Http(session, base, timeout)
        spec = _identify(http)
        reader = _READERS.get(spec.engine, _read_openai_compatible)
        return reader(http, spec, model)


def _identify(http: _Http) -> RunnerSpec:
    for spec in runner_specs():
        reply = http.get(spec.identify_path)
        if reply.ok and isinstance(reply.json, Mapping) and _matches(reply.json, spec):
            return spec
    raise _not_openai(http)


def _matches(body: Mapping[str, Any], spec: RunnerSpec) -> bool:
    if not all(_dig(body, key) is not _MISSING for key in spec.identify_keys):
        return False
    return all(_dig(body, key) == value for key, value in spec.identify_values.items())


def _not_openai(http: _Http) -> EndpointError:
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
        hint=f"point --endpoint at the inference server itself; {_ports_hint()}",
    )


def _openai_models(http: _Http, spec: RunnerSpec) -> list[Mapping[str, Any]]:
    """The `data` list of the OpenAI model listing every engine must serve."""
    reply = http.get(spec.models_path)
    data = reply.json.get("data") if reply.ok and isinstance(reply.json, Mapping) else None
    if not isinstance(data, list):
        raise _not_openai(http)
    return [entry for entry in data if isinstance(entry, Mapping)]


def _pick(
    entries: Sequence[Mapping[str, Any]],
    model: str | None,
    spec: RunnerSpec,
    http: _Http,
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


def _version(http: _Http, spec: RunnerSpec) -> str | None:
    if not (spec.version_path and spec.version_field):
        return None
    reply = http.get(spec.version_path)
    value = _dig(reply.json, spec.version_field) if reply.ok else _MISSING
    if not isinstance(value, str) or not value.strip() or value in spec.version_unknown:
        return None
    return value.strip()


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_SCALAR = (str, int, float, bool)


def _scalars(values: Mapping[str, Any], *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON scalars (and lists of scalars) of a mapping: sampler settings as sent."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in skip:
            continue
        if value is None or isinstance(value, _SCALAR):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, _SCALAR) for v in value):
            out[key] = list(value)
    return out


# ---------------------------------------------------------------------------------------------
# llama.cpp llama-server


def parse_build_info(build_info: str | None) -> tuple[str | None, str | None]:
    """llama.cpp's "b<build>-<commit>" → (version, commit): ("b6500", "5e9b8fd").

    A build without git history reports "b0-unknown"; the version is then the commit when one
    is known, else None."""
    if not build_info:
        return None, None
    head, _, commit_part = build_info.strip().partition("-")
    commit = commit_part if commit_part and commit_part != "unknown" else None
    number = head[1:] if head.startswith("b") else ""
    if number.isdigit() and int(number) > 0:
        return f"b{int(number)}", commit
    return commit, commit


def _read_llama_cpp(http: _Http, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    props = _map(http.get(spec.identify_path).json)
    entry = _pick(_openai_models(http, spec), model, spec, http)
    meta = _map(entry.get("meta"))
    build_info = _str(props.get("build_info"))
    version, commit = parse_build_info(build_info)

    settings = _map(props.get("default_generation_settings"))
    # Newer servers put the sampler defaults under "params"; older ones beside n_ctx.
    if isinstance(settings.get("params"), Mapping):
        sampler = _scalars(settings["params"])
    else:
        sampler = _scalars(settings, skip=_NOT_SAMPLER)
    n_ctx = _int(settings.get("n_ctx")) or _int(meta.get("n_ctx"))

    model_path = _str(props.get("model_path"))
    local = _local_gguf(model_path)
    ftype = _str(meta.get("ftype")) or _str(props.get("model_ftype"))
    info = ModelInfo(
        id=_str(entry.get("id")),
        path=model_path,
        size_bytes=local.size_bytes if local else _int(meta.get("size")),
        architecture=local.architecture if local else None,
        name=local.name if local else None,
        parameters=_int(meta.get("n_params")) or (local.parameters if local else None),
        quantization=normalise_quantization(ftype)
        if ftype
        else (local.quantization if local else None),
        context_length=_int(meta.get("n_ctx_train")) or (local.context_length if local else None),
        chat_template_sha256=template_sha256(_str(props.get("chat_template"))),
    )
    extra = {
        "n_vocab": _int(meta.get("n_vocab")),
        "n_embd": _int(meta.get("n_embd")),
        "vocab_type": _int(meta.get("vocab_type")),
        "model_alias": _str(props.get("model_alias")),
    }
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=build_info,
        commit=commit,
        model=info,
        slots=_int(props.get("total_slots")),
        n_ctx=n_ctx,
        sampler_defaults=sampler,
        settings={k: v for k, v in extra.items() if v is not None},
    )


# Keys of an older llama-server's default_generation_settings that are not sampler settings.
_NOT_SAMPLER = (
    "n_ctx",
    "model",
    "id",
    "id_task",
    "id_slot",
    "is_processing",
    "prompt",
    "next_token",
)


def _local_gguf(model_path: str | None) -> GGUFInfo | None:
    """The GGUF header of the server's model file when it is on this machine, else None."""
    if not model_path or not Path(model_path).is_file():
        return None
    try:
        return read_gguf(model_path)
    except ModelFileError:
        return None


# ---------------------------------------------------------------------------------------------
# Ollama


def parse_ollama_parameters(text: str | None) -> dict[str, Any]:
    """Ollama's `parameters` text ("num_ctx 4096\\nstop \\"<|eot_id|>\\"") → a dict; repeated
    keys (stop) become lists, numbers become numbers."""
    out: dict[str, Any] = {}
    for line in (text or "").splitlines():
        key, _, raw = line.strip().partition(" ")
        if not key or not raw.strip():
            continue
        try:
            value: Any = json.loads(raw.strip())
        except ValueError:
            value = raw.strip()
        if key == "stop":
            out.setdefault("stop", []).append(value)
        else:
            out[key] = value
    return out


def _read_ollama(http: _Http, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    version = _version(http, spec)
    _openai_models(http, spec)
    name = model or _only_ollama_model(http)
    info = ModelInfo(id=name)
    parameters: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if name:
        reply = http.post("/api/show", {"model": name, "name": name})
        if reply.status == 404:
            raise EndpointError(
                f"Ollama at {redact(http.base)} has no model {name!r}",
                hint=f"pull it first: ollama pull {name}",
            )
        show = _map(reply.json) if reply.ok else {}
        details = _map(show.get("details"))
        model_info = _map(show.get("model_info"))
        arch = _str(model_info.get("general.architecture")) or _str(details.get("family"))
        quant = _str(details.get("quantization_level"))
        parameters = parse_ollama_parameters(_str(show.get("parameters")))
        info = ModelInfo(
            id=name,
            architecture=arch,
            name=_str(model_info.get("general.name")) or _str(model_info.get("general.basename")),
            parameters=_int(model_info.get("general.parameter_count"))
            or parse_size_label(_str(details.get("parameter_size"))),
            quantization=normalise_quantization(quant) if quant else None,
            context_length=_int(model_info.get(f"{arch}.context_length")) if arch else None,
            chat_template_sha256=template_sha256(_str(show.get("template"))),
        )
        extra = {
            k: details.get(k) for k in ("format", "family", "parameter_size", "quantization_level")
        }
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=info,
        n_ctx=_int(parameters.get("num_ctx")),
        sampler_defaults=parameters,
        settings={k: v for k, v in extra.items() if v},
    )


def _only_ollama_model(http: _Http) -> str | None:
    """With no model named: the one model running (/api/ps), else the one pulled (/api/tags)."""
    for path in ("/api/ps", "/api/tags"):
        reply = http.get(path)
        models = reply.json.get("models") if reply.ok and isinstance(reply.json, Mapping) else None
        if isinstance(models, list) and len(models) == 1 and isinstance(models[0], Mapping):
            name = models[0].get("name") or models[0].get("model")
            if isinstance(name, str):
                return name
    return None


# ---------------------------------------------------------------------------------------------
# vLLM, LM Studio, and any OpenAI-compatible server


def _read_vllm(http: _Http, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    version = _version(http, spec)
    entry = _pick(_openai_models(http, spec), model, spec, http)
    max_len = _int(entry.get("max_model_len"))
    root = _str(entry.get("root"))
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=ModelInfo(id=_str(entry.get("id")) or model, path=root, context_length=max_len),
        n_ctx=max_len,
        settings={"root": root} if root else {},
    )


def _read_lmstudio(http: _Http, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    _openai_models(http, spec)
    listing = _map(http.get(spec.identify_path).json).get("data")
    entries = [e for e in listing if isinstance(e, Mapping)] if isinstance(listing, list) else []
    entry = _pick(entries, model, spec, http, prefer=lambda e: e.get("state") == "loaded")
    quant = _str(entry.get("quantization"))
    loaded_ctx = _int(entry.get("loaded_context_length"))
    extra = {k: entry.get(k) for k in ("state", "type", "publisher", "compatibility_type")}
    return RuntimeInfo(
        engine=spec.engine,
        version=None,
        slug=spec.slug(None),
        endpoint=http.base,
        model=ModelInfo(
            id=_str(entry.get("id")) or model,
            architecture=_str(entry.get("arch")),
            quantization=normalise_quantization(quant) if quant else None,
            context_length=_int(entry.get("max_context_length")),
        ),
        n_ctx=loaded_ctx,
        settings={k: v for k, v in extra.items() if v is not None},
    )


def _read_openai_compatible(http: _Http, spec: RunnerSpec, model: str | None) -> RuntimeInfo:
    version = _version(http, spec)
    entry = _pick(_openai_models(http, spec), model, spec, http)
    owner = entry.get("owned_by")
    return RuntimeInfo(
        engine=spec.engine,
        version=version,
        slug=spec.slug(version),
        endpoint=http.base,
        build=version,
        model=ModelInfo(id=_str(entry.get("id")) or model),
        settings={"owned_by": owner} if isinstance(owner, str) else {},
    )


_READERS: Mapping[str, Callable[[_Http, RunnerSpec, str | None], RuntimeInfo]] = {
    "llama.cpp": _read_llama_cpp,
    "ollama": _read_ollama,
    "vllm": _read_vllm,
    "lmstudio": _read_lmstudio,
}


# ---------------------------------------------------------------------------------------------
# Waiting for a server to come up


def wait_until_ready(
    url: str,
    timeout: float = 120.0,
    *,
    client: httpx.Client | None = None,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.25,
) -> None:
    """Block until the server at `url` is ready to serve: its /health answers 200 (llama-server,
    vLLM), or, where there is no /health, its /v1/models does. `alive` (e.g. a launched
    process's `poll() is None`) is checked between attempts so a crashed server fails fast.
    Raises EndpointError after `timeout` seconds."""
    base = normalise_endpoint(url)
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with _session(client, min(timeout, 5.0), None) as session:
        while True:
            left = deadline - time.monotonic()
            try:
                response = session.get(base + "/health", timeout=max(0.1, min(left, 5.0)))
                if response.status_code == 404:
                    response = session.get(base + "/v1/models", timeout=max(0.1, min(left, 5.0)))
                if response.status_code == 200:
                    return
                loading = "loading" in response.text.lower()
                last = f"HTTP {response.status_code}" + (", loading the model" if loading else "")
            except httpx.TransportError as exc:
                last = _transport_error(exc, base, min(left, 5.0)).message
            if alive is not None and not alive():
                raise EndpointError(
                    f"the server for {redact(base)} exited before it was ready ({last})",
                    hint="read the server's own output for the reason",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise EndpointError(
                    f"{redact(base)} was not ready after {timeout:g} s ({last})",
                    hint="a large model can take minutes to load; wait longer or check the server",
                )
            time.sleep(min(interval, left))
