"""GitHub Gist API over HTTP: create a public Gist, fetch a raw file back. No business logic.

As documented (docs.github.com/rest/gists/gists, API version 2022-11-28):

    POST {api}/gists  {"description", "public": true, "files": {name: {"content"}}}
      201  {"id", "html_url", "files": {name: {"raw_url", "size", "truncated", ...}},
            "truncated"}
      401  bad credentials                    → fix the token
      403  forbidden, or a rate limit         → scope hint / wait (see below)
      404  the token lacks the gist scope     → scope hint
      422  {"message": "Validation Failed", "errors": [{"resource", "code", "field"}]}
      5xx                                     → bounded retries with backoff
    Rate limits: 403 or 429 with `retry-after` (seconds), or `x-ratelimit-remaining: 0` with
    `x-ratelimit-reset` (UTC epoch seconds); a secondary limit without either: wait a minute.

File content in API answers is cut at 1 MB (`truncated`), so files are read back from their
`raw_url`, which serves up to 10 MB; larger files would need a git clone, so rla does not
upload them. Error bodies are `{"message", "documentation_url"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from runlocalai_bench import __version__
from runlocalai_bench.errors import PublishError
from runlocalai_bench.publish.retry import RetryPolicy, clock_time

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_RAW_BYTES = 10_000_000  # what a raw URL serves; beyond it only `git clone` does


def gist_name(path: str) -> str:
    """A run file's name in a Gist. Gists have no folders and GitHub answers 422 to a name with
    a '/', so `runs/run-1.log` is uploaded as `runs-run-1.log`."""
    return path.replace("/", "-")
_SCOPE_HINT = ("the token needs the gist scope: `gh auth refresh -s gist`, or a classic token"
               " with 'gist' (fine-grained tokens: Gists read and write)")


@dataclass(frozen=True)
class GistFile:
    filename: str
    raw_url: str
    size: int | None
    truncated: bool


@dataclass(frozen=True)
class Gist:
    id: str
    html_url: str
    files: Mapping[str, GistFile]
    truncated: bool


class GistClient:
    def __init__(self, token: str, *, api_url: str = DEFAULT_API_URL,
                 retry: RetryPolicy | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._api = httpx.Client(
            timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {token}",
                     "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION,
                     "User-Agent": f"rla/{__version__}"},
        )
        # Raw files are public: the token never travels to the raw host.
        self._raw = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True,
                                 headers={"User-Agent": f"rla/{__version__}"})

    def close(self) -> None:
        self._api.close()
        self._raw.close()

    def __enter__(self) -> GistClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self, description: str, files: Mapping[str, str], *, public: bool = True) -> Gist:
        body = {"description": description, "public": public,
                "files": {name: {"content": text} for name, text in files.items()}}
        response = self._send("POST", f"{self.api_url}/gists", body)
        if response.status_code != 201:
            raise _api_error(response)
        return _parse_gist(response)

    def fetch_raw(self, url: str) -> bytes:
        """A file's exact bytes from its raw URL (retrying 404 briefly: a new Gist can take a
        moment to reach the raw host)."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                with self._raw.stream("GET", url) as response:
                    if response.status_code == 200:
                        data = bytearray()
                        for chunk in response.iter_bytes():
                            data += chunk
                            if len(data) > MAX_RAW_BYTES:
                                raise PublishError(
                                    f"the Gist file at {url} is larger than"
                                    f" {MAX_RAW_BYTES // 1_000_000} MB",
                                    hint="rla publishes only files the raw URL serves whole")
                        return bytes(data)
                    status = response.status_code
            except httpx.TransportError as exc:
                status, reason = 0, str(exc)
            else:
                reason = f"HTTP {status}"
            retryable = status == 0 or status == 404 or status >= 500
            if not retryable or attempt == self.retry.attempts:
                raise PublishError(f"cannot read {url} back ({reason})",
                                   hint="the Gist may be incomplete: open it and check, then "
                                   "publish again")
            self.retry.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, body: Any) -> httpx.Response:
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self._api.request(method, url, json=body)
            except httpx.TransportError as exc:
                if last:
                    raise PublishError(f"cannot reach the GitHub API at {self.api_url}: {exc}",
                                       hint="check the network, or --github-api-url") from exc
                self.retry.sleep(self.retry.backoff(attempt))
                continue
            wait = rate_limit_wait(response, self.retry.clock())
            if wait is not None:
                if last or wait > self.retry.max_wait_s:
                    resume = clock_time(self.retry.clock() + wait)
                    raise PublishError(
                        f"GitHub's rate limit is exhausted ({response.status_code}:"
                        f" {_message(response)})",
                        hint=f"try again after {resume}")
                self.retry.sleep(wait)
                continue
            if response.status_code >= 500:
                if last:
                    raise PublishError(
                        f"GitHub answered {response.status_code} {_message(response)}"
                        f" {self.retry.attempts} times",
                        hint="try again later; if a Gist appeared anyway, delete it first")
                self.retry.sleep(self.retry.backoff(attempt))
                continue
            return response
        raise AssertionError("unreachable")


def rate_limit_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait when a response is a rate limit, else None (GitHub's documented rules)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return 60.0
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - now)
        except ValueError:
            return 60.0
    if response.status_code == 429 or "rate limit" in _message(response).lower():
        return 60.0
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or ""
    if isinstance(body, Mapping):
        return str(body.get("message") or response.reason_phrase or "")
    return response.reason_phrase or ""


def _api_error(response: httpx.Response) -> PublishError:
    status, message = response.status_code, _message(response)
    if status == 401:
        return PublishError(f"GitHub rejected the token (401 {message})",
                            hint="set GH_TOKEN to a valid token, or run `gh auth login -s gist`")
    if status == 403:
        return PublishError(f"GitHub refused to create the Gist (403 {message})",
                            hint=_SCOPE_HINT)
    if status == 404:
        return PublishError("GitHub answered 404 to POST /gists: the token has no gist scope"
                            " or the API URL is wrong", hint=_SCOPE_HINT)
    if status == 422:
        return PublishError(f"GitHub rejected the Gist (422 {message}: "
                            f"{_validation_errors(response)})",
                            hint="a file may be empty or too large; see the run directory")
    return PublishError(f"unexpected answer from GitHub: {status} {message}",
                        hint="check --github-api-url / RLA_GITHUB_API_URL")


def _validation_errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return "no details"
    parts = []
    for e in errors:
        if isinstance(e, Mapping):
            parts.append(" ".join(str(e[k]) for k in ("resource", "field", "code", "message")
                                  if e.get(k)))
        else:
            parts.append(str(e))
    return "; ".join(parts) or "no details"


def _parse_gist(response: httpx.Response) -> Gist:
    try:
        body = response.json()
        files = {
            name: GistFile(filename=name, raw_url=str(f["raw_url"]), size=f.get("size"),
                           truncated=bool(f.get("truncated")))
            for name, f in body["files"].items()
        }
        return Gist(id=str(body["id"]), html_url=str(body["html_url"]), files=files,
                    truncated=bool(body.get("truncated")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PublishError("GitHub's answer to POST /gists lacks id, html_url or files",
                           hint="check --github-api-url / RLA_GITHUB_API_URL") from exc
