"""dispatch.send_all with a real backend against a real loopback server."""

from __future__ import annotations

import asyncio
import threading

from runlocalai_bench import dispatch
from runlocalai_bench.backends.openai_compat import OpenAICompatBackend
from runlocalai_bench.types import MCItem, Prompt, RuntimeInfo
from tests.support.servers import Reply, Seen, serve

LLAMA = RuntimeInfo(engine="llama.cpp", version="b6500", slug="llama.cpp-b6500")
COMPLETION = {"choices": [{"text": " A", "finish_reason": "length"}]}


def test_at_concurrency_1_the_next_request_leaves_before_the_last_answer_is_settled():
    """Issue 18: settling an answer (scoring, the samples line, its fsync) must overlap the
    engine's work on the next request, not delay it. Each settle waits, blocking the event
    loop, for the server to have the next request: were the request still unsent it could not
    arrive while the loop is held, and the wait would run out."""
    items = [MCItem(id=f"q{i}", subtask="s", question="?", choices=("a", "b"), answer="A")
             for i in range(6)]
    arrived: list[str] = []
    arrival = threading.Condition()

    def handler(seen: Seen) -> Reply:
        with arrival:
            arrived.append(seen.body["prompt"])
            arrival.notify_all()
        return Reply(body=COMPLETION)

    held: list[tuple[str, bool]] = []

    async def settle(item, prompt, generation, error) -> None:
        assert error is None and generation.text == " A"
        later = items.index(item) + 1
        if later < len(items):
            with arrival:
                ok = arrival.wait_for(lambda: items[later].id in arrived, timeout=5)
            held.append((item.id, ok))

    async def run(url: str) -> None:
        backend = OpenAICompatBackend(url, "m", LLAMA, retries=0)
        try:
            await dispatch.send_all(items, lambda item: Prompt(text=item.id),
                                    dispatch.endpoints_of([url], [backend]), 1,
                                    settle=settle, settling=1, note=print)
        finally:
            await backend.aclose()

    with serve(handler) as server:
        asyncio.run(run(server.url))
    assert arrived == [item.id for item in items]
    assert held == [(item.id, True) for item in items[:-1]]
