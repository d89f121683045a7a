"""The trust gate's greedy and plausibility refusals over runs against loopback Ollama, vLLM and
LM Studio servers (their reply shapes from tests/runtime/data): each cause named in one line,
and what rla overrode on the wire not refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runlocalai_bench import ui
from runlocalai_bench.backends.factory import open_backend
from runlocalai_bench.cli.render import RichRunUI
from runlocalai_bench.config import build_config
from runlocalai_bench.pipeline import run_benchmark
from runlocalai_bench.publish.trust import check_gate, publishable_specs
from runlocalai_bench.results.record import load_record
from runlocalai_bench.results.recordtypes import Batching, Scored
from runlocalai_bench.rig import detect_rig
from tests.runtime.fakes import recorded
from tests.support.servers import Reply, Seen, serve

Handler = Callable[[Seen], Reply]


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


def ollama(num_ctx_cut: bool) -> Handler:
    """Ollama with a Modelfile that sets repeat_penalty 1.3; it cuts a prompt longer than the
    num_ctx it is sent to exactly num_ctx tokens, silently, as Ollama does."""
    show = recorded("ollama-show.json")
    show["parameters"] = "repeat_penalty 1.3\ntemperature 0.7\ntop_k 40"

    def handle(seen: Seen) -> Reply:
        if seen.path == "/api/version":
            return Reply(body={"version": "0.24.0"})
        if seen.path == "/v1/models":
            return Reply(body={"object": "list", "data": [{"id": "llama3.2", "object": "model"}]})
        if seen.path == "/api/show":
            return Reply(body=show)
        if seen.path == "/api/generate":
            n = tokens(seen.body["prompt"])
            num_ctx = seen.body["options"]["num_ctx"]
            top = [{"token": " A", "logprob": -0.1}, {"token": " B", "logprob": -2.0}]
            return Reply(body={"model": "llama3.2", "response": " A", "done": True,
                               "done_reason": "length",
                               "prompt_eval_count": min(n, num_ctx) if num_ctx_cut else n,
                               "eval_count": 1,
                               "logprobs": [{"token": " A", "logprob": -0.1,
                                             "top_logprobs": top}]})
        return Reply(404, {"error": "not found"})

    return handle


def openai_server(models: Any, extra: dict[str, Reply]) -> Handler:
    """vLLM or LM Studio: the model listing, extra GET routes, and completions in the legacy
    logprobs shape (vLLM's) with usage."""

    def handle(seen: Seen) -> Reply:
        if seen.path in extra:
            return extra[seen.path]
        if seen.path == "/v1/models":
            return Reply(body=models)
        if seen.path == "/v1/completions":
            return Reply(body={"choices": [{"text": " A", "finish_reason": "length",
                                            "logprobs": {"top_logprobs": [{" A": -0.1,
                                                                           " B": -2.0}]}}],
                               "usage": {"prompt_tokens": tokens(seen.body["prompt"]),
                                         "completion_tokens": 1}})
        return Reply(404, {"error": "not found"})

    return handle


def run_against(handler: Handler, out: Path, model: str, **flags: Any) -> list[str]:
    with serve(handler) as server:
        config = build_config("selfcheck", {"endpoint": server.url, "model": model,
                                            "output_dir": out, "index_path": out / "i.sqlite",
                                            **flags}, env={})
        outcome = run_benchmark(config, RichRunUI(ui.stdout_console(), ui.stderr_console()),
                                open_backend=open_backend, detect_rig=detect_rig)
    record = load_record(outcome.run.record)
    reasons = check_gate(record, outcome.run.path, publishable_specs()).reasons
    assert all("\n" not in r for r in reasons)
    return list(reasons)


def test_ollama_cutting_prompts_at_num_ctx_is_refused_for_it(tmp_path: Path) -> None:
    reasons = run_against(ollama(num_ctx_cut=True), tmp_path, "llama3.2", n_ctx=128)
    (context,) = [r for r in reasons if "context" in r]
    assert context.startswith("12 prompt(s) reached the context of 128 tokens (longest 128"
                              " tokens), so they were cut: restart the server with a larger"
                              " context"), context
    # The Modelfile's repeat_penalty, top_k and temperature were overridden in options.
    assert not any("server's default" in r for r in reasons), reasons
    record = load_record(next(tmp_path.glob("*/record.json")))
    assert record.runtime.sampler_defaults["repeat_penalty"] == 1.3
    # rla chose Ollama's context: the reproduction states it, and the model by its blob.
    assert "--n-ctx 128" in record.command.reproduce
    assert record.request is not None and record.request.n_ctx == 128
    assert record.model.file_sha256 == (
        "200765e1283640ffbd013184bf496e261032fa75b99498a9613be4e94d63ad52")
    assert record.sampling.sent["options"]["repeat_penalty"] == 1.0


def test_vllm_at_concurrency_4_with_a_short_context(tmp_path: Path) -> None:
    models = recorded("vllm-models.json")
    models["data"][0]["max_model_len"] = 128
    name = models["data"][0]["id"]
    reasons = run_against(openai_server(models, {"/version": Reply(body={"version": "0.6.3"})}),
                          tmp_path, name, concurrency=4)
    assert ("4 requests were in flight at once (--concurrency 4): batching changes results;"
            " rerun with --config leaderboard") in reasons
    # vLLM reports no slots; four requests in flight at one endpoint are a batched run, and the
    # record says so
    assert ("the record states a batched run (4 request(s) in flight per endpoint): a batching"
            " server is for exploration and CI runs, not leaderboard rows; rerun with --config"
            " leaderboard against a server with one slot") in reasons
    record = load_record(next(tmp_path.glob("*/record.json")))
    assert isinstance(record.body, Scored) and record.body.batching == Batching(
        batched=True, slots=None, concurrency=4, in_flight=4)
    assert any(r.startswith("12 prompt(s) reached the context of 128 tokens") for r in reasons)


def test_lmstudio_with_the_prompt_cache_asked_for(tmp_path: Path) -> None:
    listing = recorded("lmstudio-models.json")
    reasons = run_against(openai_server(listing, {"/api/v0/models": Reply(body=listing)}),
                          tmp_path, "meta-llama-3.1-8b-instruct", cache_prompt=True)
    assert ("the server's prompt cache was on (--cache-prompt): cached prefixes change logits;"
            " rerun with --config leaderboard") in reasons
