"""The leaderboard's submission API over HTTP (docs/submission-api.md). No business logic.

    POST {api}/v1/submissions          Bearer token, Idempotency-Key, JSON body (submission-v1)
      201  {"id", "status"}  + X-RateLimit-Remaining / X-RateLimit-Reset
      409  {"error": {...}, "id", "status"}   the key was used before: the original submission
    POST {api}/v1/submissions/dry-run  same body; validates, stores nothing
      200  {"valid": bool, "errors": [str]}
    Errors: {"error": {"code", "message", "details"?}}; 400/422 invalid payload, 401 bad token,
    403 not allowed, 429 {"error", "retryAfterMs"} (+ Retry-After), 5xx retried (the key makes
    a retried POST safe).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from runlocalai_bench import __version__, jsonio
from runlocalai_bench.errors import PublishError
from runlocalai_bench.publish.retry import RetryPolicy, clock_time

MAX_ANSWER_BYTES = 1024 * 1024  # a receipt or a verdict is a few hundred bytes

SUBMISSIONS = "/v1/submissions"
DRY_RUN = "/v1/submissions/dry-run"


@dataclass(frozen=True)
class Receipt:
    id: str
    status: str
    duplicate: bool  # the server already had this idempotency key: id is the original's
    rate_limit_remaining: int | None = None
    rate_limit_reset: int | None = None


@dataclass(frozen=True)
class DryRunVerdict:
    valid: bool
    errors: tuple[str, ...]


class LeaderboardClient:
    def __init__(self, api_url: str, token: str, *, retry: RetryPolicy | None = None,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "User-Agent": f"rla/{__version__}"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LeaderboardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, payload: Mapping[str, Any], idempotency_key: str) -> Receipt:
        response = self._send(SUBMISSIONS, payload, idempotency_key)
        if response.status_code in (200, 201, 409):
            body = _answer(response)
            sub_id, status = body.get("id"), body.get("status")
            if not sub_id or not status:
                raise PublishError(f"the leaderboard answered {response.status_code} without an"
                                   " id and status", hint="check --api-url / RLA_LEADERBOARD_URL")
            return Receipt(id=str(sub_id), status=str(status),
                           duplicate=response.status_code == 409,
                           rate_limit_remaining=_int(response.headers.get("x-ratelimit-remaining")),
                           rate_limit_reset=_int(response.headers.get("x-ratelimit-reset")))
        raise _error(response)

    def dry_run(self, payload: Mapping[str, Any], idempotency_key: str) -> DryRunVerdict:
        response = self._send(DRY_RUN, payload, idempotency_key)
        if response.status_code == 200:
            body = _answer(response)
            errors = body.get("errors") or []
            return DryRunVerdict(valid=bool(body.get("valid")), errors=tuple(
                str(e) for e in (errors if isinstance(errors, list) else [errors])))
        if response.status_code in (400, 422):
            return DryRunVerdict(valid=False, errors=_details(response))
        raise _error(response)

    def _send(self, path: str, payload: Mapping[str, Any], key: str) -> httpx.Response:
        url = self.api_url + path
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self._http.post(url, json=payload, headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                if last:
                    raise PublishError(f"cannot reach the leaderboard at {self.api_url}: {exc}",
                                       hint="check the network, or --api-url") from exc
                self.retry.sleep(self.retry.backoff(attempt))
                continue
            if response.status_code == 429:
                wait = _retry_after(response)
                if last or wait > self.retry.max_wait_s:
                    raise PublishError(
                        "the leaderboard's rate limit is exhausted",
                        hint=f"try again after {clock_time(self.retry.clock() + wait)}")
                self.retry.sleep(wait)
                continue
            if response.status_code >= 500:
                if last:
                    raise PublishError(f"the leaderboard answered {response.status_code}"
                                       f" {self.retry.attempts} times",
                                       hint="try again later: the same run keeps the same"
                                       " idempotency key, so nothing is submitted twice")
                self.retry.sleep(self.retry.backoff(attempt))
                continue
            return response
        raise AssertionError("unreachable")


def _retry_after(response: httpx.Response) -> float:
    body = _json(response)
    ms = body.get("retryAfterMs")
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return max(0.0, ms / 1000.0)
    header = response.headers.get("retry-after")
    try:
        return max(0.0, float(header)) if header else 60.0
    except ValueError:
        return 60.0


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The leaderboard's JSON object, read through the bounded JSON reader."""
    body = jsonio.loads(response.content, f"the leaderboard's answer ({response.status_code})",
                        max_bytes=MAX_ANSWER_BYTES, error=PublishError,
                        hint="check --api-url / RLA_LEADERBOARD_URL: is it the leaderboard?")
    if not isinstance(body, dict):
        raise PublishError(f"the leaderboard answered {response.status_code} with something"
                           " other than a JSON object",
                           hint="check --api-url / RLA_LEADERBOARD_URL: is it the leaderboard?")
    return body


def _json(response: httpx.Response) -> dict[str, Any]:
    """An error answer's JSON object, or {} when it has none."""
    try:
        return _answer(response)
    except PublishError:
        return {}


def _details(response: httpx.Response) -> tuple[str, ...]:
    error = _json(response).get("error") or {}
    details = error.get("details") if isinstance(error, Mapping) else None
    if isinstance(details, list) and details:
        return tuple(str(d) for d in details)
    message = error.get("message") if isinstance(error, Mapping) else None
    return (str(message or f"HTTP {response.status_code}"),)


def _error(response: httpx.Response) -> PublishError:
    status = response.status_code
    error = _json(response).get("error") or {}
    message = str(error.get("message") if isinstance(error, Mapping) else "") or \
        response.reason_phrase
    if status == 401:
        return PublishError(f"the leaderboard rejected the token (401 {message})",
                            hint="check RLA_SUBMIT_TOKEN")
    if status == 403:
        return PublishError(f"the leaderboard refused the submission (403 {message})",
                            hint="your token may not be allowed to submit; check RLA_SUBMIT_TOKEN")
    if status in (400, 422):
        details = "; ".join(_details(response))
        return PublishError(f"the leaderboard rejected the payload ({status}: {details})",
                            hint="see `rla submit RUN_DIR --dry-run` and `rla schema"
                            " submission-v1`")
    return PublishError(f"unexpected answer from the leaderboard: {status} {message}",
                        hint="check --api-url / RLA_LEADERBOARD_URL")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
