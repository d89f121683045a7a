"""The runtime probe against real HTTP servers on 127.0.0.1 that answer as each inference
server does (recorded or documented bodies), and against servers that fail in the ways users
meet: nothing listening, still loading, wanting a key, not speaking the OpenAI API."""

from __future__ import annotations

import copy
import hashlib
import socket
import threading
from pathlib import Path

import pytest

from runlocalai_bench.backends.http import normalise_endpoint
from runlocalai_bench.errors import EndpointError
from runlocalai_bench.runtime.probe import probe_endpoint
from runlocalai_bench.runtime.read_llama_cpp import parse_build_info
from runlocalai_bench.runtime.read_ollama import parse_ollama_parameters
from runlocalai_bench.runtime.runners import runner_specs
from tests.support.llama_server import wait_until_ready

from .fakes import Reply, recorded

sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731


# ---------------------------------------------------------------------------------------------
# Endpoint URLs


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/v1/chat/completions", "http://127.0.0.1:8080"),
        ("localhost:11434", "http://localhost:11434"),
        ("https://gpu-box.lan/llm/v1", "https://gpu-box.lan/llm"),
        ("  http://[::1]:8000/v1/models ", "http://[::1]:8000"),
    ],
)
def test_normalise_endpoint(given: str, root: str) -> None:
    assert normalise_endpoint(given) == root


@pytest.mark.parametrize(
    ("given", "message"),
    [("", "empty"), ("ftp://host:21", "scheme"), ("http://:8080", "no host"),
     ("http://host:99999", "invalid port")],
)  # fmt: skip
def test_bad_endpoints(given: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message) as err:
        normalise_endpoint(given)
    assert err.value.hint


def test_runner_specs_cover_every_engine() -> None:
    specs = runner_specs()
    assert [s.engine for s in specs][-1] == "openai-compatible"  # the fallback comes last
    assert {s.engine for s in specs} == {
        "llama.cpp", "ollama", "lmstudio", "vllm", "llama-cpp-python", "openai-compatible",
    }  # fmt: skip
    assert {s.engine: s.default_port for s in specs}["ollama"] == 11434


# ---------------------------------------------------------------------------------------------
# llama.cpp llama-server


def llama_server_routes(props: dict | None = None, models: dict | None = None) -> dict:
    return {
        "GET /props": Reply(body=props or recorded("llama-server-props.json")),
        "GET /v1/models": Reply(body=models or recorded("llama-server-models.json")),
        "GET /health": Reply(body={"status": "ok"}),
    }


def test_llama_server(serve) -> None:
    props = recorded("llama-server-props.json")
    server = serve(llama_server_routes())
    info = probe_endpoint(server.url + "/v1")

    assert info.engine == "llama.cpp"
    assert (info.version, info.commit, info.build) == ("b11312", "0c1e57098", "b11312-0c1e57098")
    assert info.slug == "llama.cpp-b11312"
    assert info.endpoint == server.url
    meta = recorded("llama-server-models.json")["data"][0]["meta"]
    assert info.model.id == "/models/gemma-3-270m-q4_k_m.gguf"  # llama-server's name for it
    assert info.model.parameters == meta["n_params"]
    assert info.model.quantization == "Q4_K_M"  # from "Q4_K - Medium"
    assert info.model.context_length == meta["n_ctx_train"]
    assert info.model.chat_template_sha256 == sha(props["chat_template"])
    assert info.model.path == props["model_path"]
    assert info.slots == props["total_slots"]
    assert info.n_ctx == props["default_generation_settings"]["n_ctx"]
    params = props["default_generation_settings"]["params"]
    for key in ("temperature", "top_k", "top_p", "min_p", "seed", "samplers"):
        assert info.sampler_defaults[key] == params[key]
    assert info.settings["n_vocab"] == meta["n_vocab"]
    assert server.paths() == ["/props", "/v1/models"]  # each asked once


def test_older_llama_server_reads_the_local_gguf(serve, write_gguf) -> None:
    """A 2024 llama-server: no build_info, no model_ftype, sampler defaults beside n_ctx. The
    quantization then comes from the model file itself, which is on this machine."""
    gguf = write_gguf("tiny-q4.gguf")
    props = recorded("llama-server-props-2024.json")
    props["model_path"] = str(gguf)
    models = copy.deepcopy(recorded("llama-server-models.json"))
    del models["data"][0]["meta"]["ftype"]
    server = serve(llama_server_routes(props, models))

    info = probe_endpoint(server.url)
    # No build_info in /props yet: the version cannot be read over HTTP.
    assert (info.engine, info.version, info.slug) == ("llama.cpp", None, "llama.cpp-unknown")
    assert info.model.quantization == "Q4_K_M"
    assert (info.model.architecture, info.model.name) == ("llama", "Tiny Llama Test")
    assert info.model.size_bytes == gguf.stat().st_size
    assert info.sampler_defaults["temperature"] == pytest.approx(0.8)
    assert info.sampler_defaults["samplers"] == ["top_k", "tfs_z", "typical_p", "top_p",
                                                 "min_p", "temperature"]  # fmt: skip
    assert "n_ctx" not in info.sampler_defaults and "model" not in info.sampler_defaults
    assert info.n_ctx == 4096


@pytest.mark.parametrize(
    ("build_info", "version", "commit"),
    [("b6500-5e9b8fd", "b6500", "5e9b8fd"), ("b0-unknown", None, None),
     ("b0-0c1e57098", "0c1e57098", "0c1e57098"), ("b4100-", "b4100", None), ("", None, None)],
)  # fmt: skip
def test_build_info(build_info: str, version: str | None, commit: str | None) -> None:
    assert parse_build_info(build_info) == (version, commit)


def test_source_build_without_git_reads_unknown(serve) -> None:
    props = recorded("llama-server-props.json") | {"build_info": "b0-unknown"}
    info = probe_endpoint(serve(llama_server_routes(props)).url)
    assert (info.engine, info.version, info.slug) == ("llama.cpp", None, "llama.cpp-unknown")


def test_llama_server_still_loading(serve) -> None:
    loading = Reply(503, recorded("llama-server-health-loading.json"))
    server = serve({}, fallback=loading)  # llama-server answers every path so while loading
    with pytest.raises(EndpointError, match="still loading") as err:
        probe_endpoint(server.url)
    assert "/health" in (err.value.hint or "")


def test_api_key_is_sent_and_required(serve) -> None:
    routes = llama_server_routes()

    def guarded(route: Reply):
        return lambda req: (
            route
            if req.headers.get("Authorization") == "Bearer s3cret"
            else Reply(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Invalid API Key",
                        "type": "authentication_error",
                    }
                },
            )
        )

    server = serve({path: guarded(reply) for path, reply in routes.items()})
    with pytest.raises(EndpointError, match="API key") as err:
        probe_endpoint(server.url)
    assert "s3cret" not in str(err.value)
    assert probe_endpoint(server.url, api_key="s3cret").slug == "llama.cpp-b11312"


# ---------------------------------------------------------------------------------------------
# Ollama


def ollama_routes(show: Reply | None = None) -> dict:
    return {
        "GET /api/version": Reply(body={"version": "0.24.0"}),
        "GET /v1/models": Reply(
            body={
                "object": "list",
                "data": [
                    {
                        "id": "llama3.2:latest",
                        "object": "model",
                        "created": 1730000000,
                        "owned_by": "library",
                    }
                ],
            }
        ),
        "GET /api/tags": Reply(body=recorded("ollama-tags.json")),
        "GET /api/ps": Reply(body=recorded("ollama-ps.json")),
        "POST /api/show": show or Reply(body=recorded("ollama-show.json")),
        "GET /": Reply(body="Ollama is running"),
    }


def test_ollama(serve) -> None:
    show = recorded("ollama-show.json")
    server = serve(ollama_routes())
    info = probe_endpoint(server.url + "/v1", model="llama3.2")

    assert (info.engine, info.version, info.slug) == ("ollama", "0.24.0", "ollama-0.24.0")
    assert info.model.id == "llama3.2"
    assert info.model.architecture == "llama"
    assert info.model.parameters == 8_030_261_248  # general.parameter_count, not "8.0B"
    assert info.model.quantization == "Q4_0"
    assert info.model.context_length == 8192
    assert info.model.chat_template_sha256 == sha(show["template"])
    assert info.sampler_defaults["num_keep"] == 24
    assert info.sampler_defaults["stop"] == ["<|start_header_id|>", "<|end_header_id|>",
                                             "<|eot_id|>"]  # fmt: skip
    assert info.settings["parameter_size"] == "8.0B"
    (show_request,) = [r for r in server.requests if r.method == "POST"]
    assert show_request.path == "/api/show" and show_request.body["model"] == "llama3.2"


def test_ollama_without_a_model_name_uses_the_running_one(serve) -> None:
    server = serve(ollama_routes())
    info = probe_endpoint(server.url)
    assert info.model.id == "mistral:latest"  # the one model in /api/ps
    (show,) = [r for r in server.requests if r.method == "POST"]
    assert show.path == "/api/show" and show.body["model"] == "mistral:latest"


def test_ollama_unknown_model(serve) -> None:
    missing = Reply(404, {"error": "model 'qwen9:1b' not found"})
    server = serve(ollama_routes(show=missing))
    with pytest.raises(EndpointError, match="no model 'qwen9:1b'") as err:
        probe_endpoint(server.url, model="qwen9:1b")
    assert err.value.hint == "pull it first: ollama pull qwen9:1b"


def test_ollama_parameters_text() -> None:
    text = 'num_ctx                        8192\nstop    "<|im_end|>"\ntemperature 0.7\nstop "x y"'
    assert parse_ollama_parameters(text) == {
        "num_ctx": 8192, "stop": ["<|im_end|>", "x y"], "temperature": 0.7,
    }  # fmt: skip
    assert parse_ollama_parameters(None) == {}


def test_ollama_num_ctx_from_modelfile(serve) -> None:
    show = recorded("ollama-show.json")
    show["parameters"] = "num_ctx 16384\ntemperature 0"
    info = probe_endpoint(serve(ollama_routes(Reply(body=show))).url, model="llama3.2")
    assert info.n_ctx == 16384
    assert info.sampler_defaults == {"num_ctx": 16384, "temperature": 0}


# ---------------------------------------------------------------------------------------------
# vLLM, LM Studio, llama-cpp-python and the rest


def vllm_routes() -> dict:
    return {
        "GET /version": Reply(body={"version": "0.6.3"}),
        "GET /v1/models": Reply(body=recorded("vllm-models.json")),
        "GET /health": Reply(body=""),
    }


def test_vllm(serve) -> None:
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    info = probe_endpoint(serve(vllm_routes()).url, model=model)
    assert (info.engine, info.version, info.slug) == ("vllm", "0.6.3", "vllm-0.6.3")
    assert info.model.id == model
    assert info.model.context_length == info.n_ctx == 8096
    assert info.settings == {"root": model}


def test_vllm_wrong_model_name(serve) -> None:
    with pytest.raises(EndpointError, match="has no model 'llama3'") as err:
        probe_endpoint(serve(vllm_routes()).url, model="llama3")
    assert "meta-llama/Meta-Llama-3.1-8B-Instruct" in (err.value.hint or "")


def lmstudio_routes() -> dict:
    listing = recorded("lmstudio-models.json")
    return {
        "GET /api/v0/models": Reply(body=listing),
        "GET /v1/models": Reply(
            body={
                "object": "list",
                "data": [
                    {"id": m["id"], "object": "model", "owned_by": "organization_owner"}
                    for m in listing["data"]
                ],
            }
        ),
    }


def test_lmstudio_picks_the_loaded_model(serve) -> None:
    info = probe_endpoint(serve(lmstudio_routes()).url)
    assert (info.engine, info.version, info.slug) == ("lmstudio", None, "lmstudio-unknown")
    assert info.model.id == "meta-llama-3.1-8b-instruct"
    assert (info.model.architecture, info.model.quantization) == ("llama", "Q4_K_M")
    assert info.model.context_length == 131072
    assert info.settings["state"] == "loaded"


def test_lmstudio_named_model(serve) -> None:
    info = probe_endpoint(serve(lmstudio_routes()).url, model="qwen2-vl-7b-instruct")
    assert (info.model.quantization, info.settings["compatibility_type"]) == ("4bit", "mlx")
    assert info.settings["state"] == "not-loaded"


def test_llama_cpp_python_server(serve) -> None:
    models = {
        "object": "list",
        "data": [
            {"id": "/models/gemma.gguf", "object": "model", "owned_by": "me", "permissions": []}
        ],
    }
    openapi = {"openapi": "3.1.0", "info": {"title": "🦙 llama.cpp Python API",
                                             "version": "0.3.36"}, "paths": {}}  # fmt: skip
    server = serve({"GET /openapi.json": Reply(body=openapi), "GET /v1/models": Reply(body=models)})
    info = probe_endpoint(server.url)
    assert (info.engine, info.slug) == ("llama-cpp-python", "llama-cpp-python-0.3.36")
    assert info.model.id == "/models/gemma.gguf"

    openapi["info"]["version"] = "0.0.1"  # what releases before the version was wired in said
    server = serve({"GET /openapi.json": Reply(body=openapi), "GET /v1/models": Reply(body=models)})
    assert probe_endpoint(server.url).slug == "llama-cpp-python-unknown"


def test_generic_openai_compatible_server(serve) -> None:
    models = {"object": "list", "data": [{"id": "tgi", "object": "model", "created": 0,
                                          "owned_by": "text-generation-inference"}]}  # fmt: skip
    server = serve({"GET /v1/models": Reply(body=models)})
    info = probe_endpoint(server.url, model="whatever")
    assert (info.engine, info.version, info.slug) == (
        "openai-compatible", None, "openai-compatible-unknown",
    )  # fmt: skip
    assert info.model.id == "tgi"
    assert info.settings == {"owned_by": "text-generation-inference"}


def test_a_server_answering_every_models_path_alike_is_not_lm_studio(serve) -> None:
    """A plain OpenAI-compatible server that answers any …/models path with OpenAI's listing
    answers LM Studio's GET /api/v0/models with a 200 too; its entries lack LM Studio's shape
    (type, arch, state, max_context_length, quantization), so it is the generic server, not
    lmstudio-unknown. LM Studio's own listing with one of those keys gone is not LM Studio's
    either."""
    models = {"object": "list", "data": [{"id": "qwen2.5-7b-instruct", "object": "model",
                                          "created": 0, "owned_by": "organization_owner"}]}
    every_models_path = {f"GET {path}": Reply(body=models)
                         for path in ("/v1/models", "/api/v0/models", "/models", "/api/models")}
    server = serve(every_models_path)
    info = probe_endpoint(server.url)
    assert (info.engine, info.slug) == ("openai-compatible", "openai-compatible-unknown")
    assert info.model.id == "qwen2.5-7b-instruct"
    assert "/api/v0/models" in server.paths()  # asked, and not taken

    routes = lmstudio_routes()
    listing = recorded("lmstudio-models.json")
    del listing["data"][1]["state"]
    routes["GET /api/v0/models"] = Reply(body=listing)
    assert probe_endpoint(serve(routes).url).engine == "openai-compatible"


# ---------------------------------------------------------------------------------------------
# Endpoints that are not (ready) inference servers


def test_html_server_is_not_openai_compatible(serve) -> None:
    page = Reply(200, "<!doctype html><html><body>My dashboard</body></html>", "text/html")
    server = serve({}, fallback=page)
    with pytest.raises(EndpointError, match=r"not as an OpenAI-compatible server.*HTML") as err:
        probe_endpoint(server.url)
    assert "11434" in (err.value.hint or "")  # the default ports, from the runner specs


def test_404_server_is_not_openai_compatible(serve) -> None:
    server = serve({"GET /": Reply(body="hello")})
    with pytest.raises(EndpointError, match=r"GET /v1/models gave HTTP 404"):
        probe_endpoint(server.url)


def test_refused_port(free_port: int) -> None:
    with pytest.raises(EndpointError, match="connection refused") as err:
        probe_endpoint(f"http://127.0.0.1:{free_port}/v1")
    assert "llama.cpp llama-server 8080" in (err.value.hint or "")


def test_unresolvable_host() -> None:
    with pytest.raises(EndpointError, match="cannot resolve"):
        probe_endpoint("http://no-such-host.invalid:8080", timeout=3)


def test_port_that_does_not_speak_http() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def garbage() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        threading.Thread(target=garbage, daemon=True).start()
        port = listener.getsockname()[1]
        with pytest.raises(EndpointError, match="does not speak HTTP"):
            probe_endpoint(f"http://127.0.0.1:{port}")


def test_server_that_never_answers() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(EndpointError, match=r"did not answer within 0\.2 s"):
            probe_endpoint(f"http://127.0.0.1:{port}", timeout=0.2)


def test_redacts_credentials_in_errors(free_port: int) -> None:
    with pytest.raises(EndpointError) as err:
        probe_endpoint(f"http://admin:hunter22secret@127.0.0.1:{free_port}")
    assert "hunter22secret" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# Waiting for a server


def test_wait_until_ready_waits_out_loading(serve) -> None:
    loading = recorded("llama-server-health-loading.json")
    answers = iter([Reply(503, loading)] * 3)
    server = serve({"GET /health": lambda req: next(answers, Reply(body={"status": "ok"}))})
    wait_until_ready(server.url + "/v1", timeout=10, interval=0.01)
    assert server.paths() == ["/health"] * 4


def test_wait_until_ready_falls_back_to_models_without_health(serve) -> None:
    server = serve({"GET /v1/models": Reply(body={"object": "list", "data": []})})
    wait_until_ready(server.url, timeout=10, interval=0.01)
    assert server.paths() == ["/health", "/v1/models"]


def test_wait_until_ready_times_out(serve) -> None:
    server = serve({}, fallback=Reply(503, recorded("llama-server-health-loading.json")))
    with pytest.raises(
        EndpointError, match=r"not ready after 0.3 s \(HTTP 503, loading the model\)"
    ):
        wait_until_ready(server.url, timeout=0.3, interval=0.05)


def test_wait_until_ready_stops_when_the_process_dies(free_port: int) -> None:
    checks = []

    def alive() -> bool:
        checks.append(1)
        return len(checks) < 3

    with pytest.raises(EndpointError, match=r"exited before it was ready \(cannot connect"):
        wait_until_ready(f"http://127.0.0.1:{free_port}", timeout=30, alive=alive, interval=0.01)
    assert len(checks) == 3


def test_local_gguf_path_that_is_not_a_file_is_ignored(serve, tmp_path: Path) -> None:
    props = recorded("llama-server-props.json") | {"model_path": str(tmp_path / "gone.gguf")}
    info = probe_endpoint(serve(llama_server_routes(props)).url)
    assert info.model.architecture is None and info.model.quantization == "Q4_K_M"
