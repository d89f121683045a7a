"""GitHub Gist API over HTTP: create a public Gist, fetch a raw file back. No business logic.

As documented (docs.github.com/rest/gists/gists, API version 2022-11-28):

    POST {api}/gists  {"description", "public": true, "files": {name: {"content"}}}
      201  {"id", "html_url", "files": {name: {"raw_url", "size", "truncated", ...}},
            "truncated"}
      401  bad credentials                    → fix the token
      403  forbidden, or a rate limit         → scope hint / wait (see below)
      404  the token lacks the gist scope     → scope hint
      422  {"message": "Validation Failed", "errors": [{"resource", "code", "field"}]}
      5xx                                     → unknown outcome (below)
    GET {api}/gists?since=<ISO 8601>&per_page=<≤100>&page=<n>
      200  [{"id", "html_url", "description", "files": {name: {"raw_url", "size", ...}},
             "created_at", "updated_at", ...}], the authenticated user's Gists updated at or
           after `since`, without file content; more pages in the Link header (rel="next")
    GET {api}/gists/{id}
      200  as POST's 201
    Rate limits: 403 or 429 with `retry-after` (seconds), or `x-ratelimit-remaining: 0` with
    `x-ratelimit-reset` (UTC epoch seconds); a secondary limit without either: wait a minute.

POST /gists is not idempotent. A 5xx, a timeout or a connection dropped after the request went
out leaves it unknown whether GitHub made the Gist, so a POST is never simply sent again: each
carries a marker unique to the attempt at the end of its description, and before sending again
the client lists the Gists updated since just before the first POST; one carrying the marker is
adopted. Only a connection never made (nothing was sent) and a rate limit (refused before any
work) are sent again without looking.

File content in API answers is cut at 1 MB (`truncated`), so files are read back from their
`raw_url`, which serves up to 10 MB; larger files would need a git clone, so rla does not
upload them. Error bodies are `{"message", "documentation_url"}`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from runlocalai_bench import __version__, jsonio
from runlocalai_bench.errors import PublishError, RecordError
from runlocalai_bench.publish.retry import RetryPolicy, clock_time, iso_time

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_RAW_BYTES = 10_000_000  # what a raw URL serves; beyond it only `git clone` does
# The search for an unanswered POST's Gist starts this long before the first POST by the local
# clock, which may be behind GitHub's: a wider window only lengthens the list.
SINCE_MARGIN_S = 3600.0
PER_PAGE = 100  # the most GET /gists gives per page
MAX_PAGES = 20  # 2,000 Gists updated within the window: beyond that, rla cannot tell
# The request never left: nothing can have been made, so the POST is sent again as it is.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def new_marker(label: str) -> str:
    """`[rla:<label>:<nonce>]`, unique to one publish attempt (`label`: the run id), for
    `GistClient.create` to put at the end of the Gist's description."""
    return f"[rla:{label}:{secrets.token_hex(6)}]"


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
    def __init__(self, token: str | None, *, api_url: str = DEFAULT_API_URL,
                 retry: RetryPolicy | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        """`token` None reads public Gists only (GET /gists/{id} and raw files)."""
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        auth = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._api = httpx.Client(
            timeout=timeout, transport=transport,
            headers={**auth,
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

    def create(self, description: str, files: Mapping[str, str], *, marker: str | None = None,
               public: bool = True) -> Gist:
        """POST /gists, described as `description marker` (`marker`: unique to this attempt,
        `new_marker()` when not given). When the answer is lost (5xx, timeout, connection
        dropped), the Gist that carries `marker` is adopted if GitHub made it; the POST is sent
        again only when none does, within `retry.attempts` in all."""
        marker = marker or new_marker("gist")
        body = {"description": f"{description} {marker}", "public": public,
                "files": {name: {"content": text} for name, text in files.items()}}
        since = iso_time(self.retry.clock() - SINCE_MARGIN_S)
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self._api.post(f"{self.api_url}/gists", json=body)
            except _NOT_SENT as exc:
                if last:
                    raise PublishError(f"cannot reach the GitHub API at {self.api_url}: {exc}",
                                       hint="check the network, or --github-api-url") from exc
                self.retry.sleep(self.retry.backoff(attempt))
                continue
            except httpx.TransportError as exc:
                lost = f"the answer to POST /gists was lost ({type(exc).__name__}: {exc})"
            else:
                if self._rate_limited(response, last):
                    continue
                if response.status_code == 201:
                    return _parse_gist(response, "POST /gists")
                if response.status_code < 500:
                    raise _api_error(response, "POST /gists")
                lost = f"GitHub answered {response.status_code} {_message(response)}"
            # GitHub may have made the Gist: look for it (after the backoff, which also gives
            # the list time to show it) before anything is sent again
            self.retry.sleep(self.retry.backoff(attempt))
            gist_id = self._find_marked(marker, since, lost)
            if gist_id is not None:
                return self.get(gist_id)
            if last:
                raise PublishError(f"{lost} {self.retry.attempts} times, and no Gist of yours"
                                   " carries this attempt's marker",
                                   hint="try again later; if a Gist whose description ends in"
                                   f" {marker} appears anyway, delete it first")
        raise AssertionError("unreachable")

    def get(self, gist_id: str) -> Gist:
        """GET /gists/{id}: the Gist with its files' raw URLs."""
        what = f"GET /gists/{gist_id}"
        response = self._send(f"{self.api_url}/gists/{gist_id}")
        if response.status_code != 200:
            raise _api_error(response, what)
        return _parse_gist(response, what)

    def _find_marked(self, marker: str, since: str, lost: str) -> str | None:
        """The id of the user's Gist, updated at or after `since`, whose description carries
        `marker`; None when none does. Raises when the list cannot be read to its end."""
        hint = (f"look at your Gists for one whose description ends in {marker}: if it is"
                " there, delete it; then publish again")
        url: str | None = f"{self.api_url}/gists"
        params: dict[str, Any] | None = {"since": since, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            assert url is not None
            try:
                response = self._send(url, params)
            except PublishError as exc:
                raise PublishError(f"cannot tell whether GitHub made the Gist: {lost}, and"
                                   f" listing your Gists failed ({exc.message})",
                                   hint=hint) from exc
            if response.status_code != 200:
                raise PublishError(f"cannot tell whether GitHub made the Gist: {lost}, and"
                                   f" GET /gists answered {response.status_code}"
                                   f" {_message(response)}", hint=hint)
            try:
                listed = jsonio.loads(response.content, "GitHub's list of Gists")
                found = [str(g["id"]) for g in listed
                         if marker in str(g.get("description") or "")]
            except (RecordError, KeyError, TypeError, AttributeError) as exc:
                raise PublishError("cannot tell whether GitHub made the Gist: the answer to"
                                   " GET /gists is not a list of Gists", hint=hint) from exc
            if found:
                return found[0]
            url = response.links.get("next", {}).get("url")
            if url is None:
                return None
            if not url.startswith(f"{self.api_url}/"):  # the token goes to the API only
                raise PublishError("cannot tell whether GitHub made the Gist: GET /gists"
                                   f" names its next page outside {self.api_url}", hint=hint)
            params = None  # the next page's URL carries them
        raise PublishError(f"cannot tell whether GitHub made the Gist: {lost}, and over"
                           f" {MAX_PAGES * PER_PAGE:,} of your Gists changed since {since}",
                           hint=hint)

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

    def _send(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET, which is idempotent: sent again after 5xx answers and connection errors."""
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self._api.get(url, params=params)
            except httpx.TransportError as exc:
                if last:
                    raise PublishError(f"cannot reach the GitHub API at {self.api_url}: {exc}",
                                       hint="check the network, or --github-api-url") from exc
                self.retry.sleep(self.retry.backoff(attempt))
                continue
            if self._rate_limited(response, last):
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

    def _rate_limited(self, response: httpx.Response, last: bool) -> bool:
        """True after waiting out a rate limit that lifts soon enough; raises when it does
        not. GitHub refuses a rate-limited request before doing anything, so it can be sent
        again as it is."""
        wait = rate_limit_wait(response, self.retry.clock())
        if wait is None:
            return False
        if last or wait > self.retry.max_wait_s:
            resume = clock_time(self.retry.clock() + wait)
            raise PublishError(f"GitHub's rate limit is exhausted ({response.status_code}:"
                               f" {_message(response)})", hint=f"try again after {resume}")
        self.retry.sleep(wait)
        return True


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
        body = jsonio.loads(response.content, "GitHub's answer")
    except RecordError:
        return response.reason_phrase or ""
    if isinstance(body, Mapping):
        return str(body.get("message") or response.reason_phrase or "")
    return response.reason_phrase or ""


def _api_error(response: httpx.Response, what: str) -> PublishError:
    status, message = response.status_code, _message(response)
    if status == 401:
        return PublishError(f"GitHub rejected the token (401 {message})",
                            hint="set GH_TOKEN to a valid token, or run `gh auth login -s gist`")
    if status == 403:
        return PublishError(f"GitHub refused {what} (403 {message})", hint=_SCOPE_HINT)
    if status == 404:
        return PublishError(f"GitHub answered 404 to {what}: the token has no gist scope"
                            " or the API URL is wrong", hint=_SCOPE_HINT)
    if status == 422:
        return PublishError(f"GitHub rejected the Gist (422 {message}: "
                            f"{_validation_errors(response)})",
                            hint="a file may be empty or too large; see the run directory")
    return PublishError(f"unexpected answer from GitHub: {status} {message}",
                        hint="check --github-api-url / RLA_GITHUB_API_URL")


def _validation_errors(response: httpx.Response) -> str:
    try:
        errors = jsonio.loads(response.content, "GitHub's answer").get("errors") or []
    except (RecordError, AttributeError):
        return "no details"
    parts = []
    for e in errors:
        if isinstance(e, Mapping):
            parts.append(" ".join(str(e[k]) for k in ("resource", "field", "code", "message")
                                  if e.get(k)))
        else:
            parts.append(str(e))
    return "; ".join(parts) or "no details"


def _parse_gist(response: httpx.Response, what: str) -> Gist:
    try:
        body = jsonio.loads(response.content, f"GitHub's answer to {what}")
        files = {
            name: GistFile(filename=name, raw_url=str(f["raw_url"]), size=f.get("size"),
                           truncated=bool(f.get("truncated")))
            for name, f in body["files"].items()
        }
        return Gist(id=str(body["id"]), html_url=str(body["html_url"]), files=files,
                    truncated=bool(body.get("truncated")))
    except (RecordError, KeyError, TypeError, AttributeError) as exc:
        raise PublishError(f"GitHub's answer to {what} lacks id, html_url or files",
                           hint="check --github-api-url / RLA_GITHUB_API_URL") from exc
