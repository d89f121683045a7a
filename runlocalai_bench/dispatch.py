"""A scored run's requests over its endpoints (one, or replicas: `--endpoint` repeated).

    endpoints_of   one Endpoint per backend, named by its redacted URL
    send_all       every item to whichever endpoint has a free place (`concurrency` requests in
                   flight per endpoint, over one shared queue), each answer or failed request
                   handed to the caller's `settle` as it lands
    close          each backend's client, on the event loop that used it

An endpoint whose request fails fatally (BackendError with fatal: its retries or the FaultBudget
of backends/http.py spent) is retired: that item goes back to the queue for the others, as does
every item its other workers still hold, and a line in run.log (`note`) says so. Only an item
that got an answer or failed for good reaches `settle`, once, so when the samples log is written
there nothing is lost or asked twice; with every endpoint retired the run stops (the last
endpoint's error, fatal: resumable). Which endpoints may share a run is backends/replicas.py's.

An answer is settled in a task of its own, which first runs when its worker next awaits: for an
http:// endpoint that is after the worker's next request is on the wire (backends/wire.py
writes it before its first await), so at --concurrency 1 the settling (scoring, the samples
line, its fsync) overlaps the engine's work instead of delaying the next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from runlocalai_bench.backends.base import Backend
from runlocalai_bench.errors import BackendError
from runlocalai_bench.redact import redact
from runlocalai_bench.results import runlog
from runlocalai_bench.types import Generation, Item, Prompt

# settle(item, prompt, generation, error): generation, or for a request that failed for good
# (not fatal) the error; whatever it raises stops the run.
Settle = Callable[[Item, Prompt, Generation | None, BackendError | None], Awaitable[None]]


@dataclass
class Endpoint:
    """One endpoint's backend in a run, and whether it was retired for failing."""

    backend: Backend
    label: str  # its URL, redacted, as run.log names it
    retired: bool = False


def endpoints_of(urls: Sequence[str], backends: Sequence[Backend]) -> list[Endpoint]:
    """The run's endpoints by URL; an in-process run's one backend is "in process"."""
    names = urls or ("in process",)
    return [Endpoint(backend, redact(url)) for backend, url in zip(backends, names, strict=True)]


async def close(backends: Sequence[Backend]) -> None:
    for backend in backends:
        await backend.aclose()


async def send_all(todo: Sequence[Item], prompt_for: Callable[[Item], Prompt],
                   endpoints: Sequence[Endpoint], concurrency: int, *, settle: Settle,
                   settling: int, note: Callable[[str], None]) -> None:
    """Ask every item in `todo`, at most `concurrency` in flight per endpoint and `settling`
    answers being settled at once (a slow settle holds the next requests back). Prompts are
    built as their item is sent, so a full set never sits in memory as text."""
    if not todo:
        return
    queue: asyncio.Queue[Item | None] = asyncio.Queue()  # None: no more work, for everyone
    for item in todo:
        queue.put_nowait(item)
    left = len(todo)  # items without an answer or a failure for good yet
    live = len(endpoints)
    fatal: list[BaseException] = []
    slots = asyncio.Semaphore(settling)
    settling_now: set[asyncio.Task[None]] = set()

    async def settled(item: Item, prompt: Prompt, generation: Generation | None,
                      error: BackendError | None) -> None:
        try:
            await settle(item, prompt, generation, error)
        except Exception as exc:
            fatal.append(exc)
            queue.put_nowait(None)
        finally:
            slots.release()

    def retire(endpoint: Endpoint, exc: BackendError) -> None:
        nonlocal live
        endpoint.retired = True
        live -= 1
        if live == 0:
            fatal.append(exc if len(endpoints) == 1 else BackendError(
                f"every one of the {len(endpoints)} endpoints failed (the last,"
                f" {endpoint.label}: {exc.message})", hint=exc.hint, fatal=True))
            queue.put_nowait(None)
        else:
            note(runlog.field_line("endpoint", f"{endpoint.label} retired ({exc.message}); its"
                                   f" items go to the {live} other{'s' if live > 1 else ''}"))

    async def worker(endpoint: Endpoint) -> None:
        nonlocal left
        while True:
            item = await queue.get()
            if item is None or fatal or endpoint.retired:
                queue.put_nowait(item)  # for the next worker to see
                return
            prompt = prompt_for(item)
            generation: Generation | None = None
            error: BackendError | None = None
            try:
                generation = await endpoint.backend.generate(prompt)
            except BackendError as exc:
                if exc.fatal:
                    if not endpoint.retired:
                        retire(endpoint, exc)
                    queue.put_nowait(item)  # asked again of a live endpoint
                    return
                error = exc
            left -= 1
            if left == 0:
                queue.put_nowait(None)
            await slots.acquire()
            task = asyncio.create_task(settled(item, prompt, generation, error))
            settling_now.add(task)
            task.add_done_callback(settling_now.discard)

    per_endpoint = min(concurrency, len(todo))
    await asyncio.gather(*(worker(endpoint) for endpoint in endpoints
                           for _ in range(per_endpoint)))
    await asyncio.gather(*settling_now)
    if fatal:
        raise fatal[0]
