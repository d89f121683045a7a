"""Loopback servers that speak the GitHub Gist API and rla's leaderboard API.

FakeGitHub follows docs.github.com/rest/gists/gists (API version 2022-11-28): POST /gists with a
Bearer token answers 201 with id, html_url and files (raw_url, size, truncated; content cut at
1 MB), or the documented errors with GitHub's error bodies {"message", "documentation_url",
"status"}; raw URLs serve the stored bytes. A file name with a '/' is refused with 422, as GitHub
does (Gists have no folders: defunkt/gist#131). GET /gists lists the user's Gists, most recently
updated first, without file content: `since` (ISO 8601, only Gists updated at or after it),
`per_page` (default 30, at most 100) and `page`, with a Link header naming the next, last, first
and prev pages where there are any; GET /gists/{id} answers one Gist with its files.
FakeLeaderboard follows docs/submission-api.md and validates each payload against the schema its
`kind` names. `script` queues replies to give before behaving normally, so a test states a
failure sequence; FakeGitHub's `lose` queues POSTs whose Gist is created but whose answer never
arrives (a proxy's 502, a dropped connection, an answer later than the client waits).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from runlocalai_bench import schemas
from tests.support.servers import LoopbackServer, Reply, Seen

GITHUB_DOCS = "https://docs.github.com/rest/gists/gists#create-a-gist"
ONE_MB = 1024 * 1024
VALID_TOKEN = "ghp_" + "T" * 36
REV = "a" * 40
# How a created Gist's answer is lost: a proxy answers 502, the connection closes unanswered, or
# the 201 comes later than the client waits (`late_s`).
Loss = Literal["502", "hang up", "late"]


def github_error(status: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"message": message, "documentation_url": GITHUB_DOCS,
                          "status": str(status), **extra})


def rate_headers(remaining: int, reset: float | None = None) -> dict[str, str]:
    return {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset if reset is not None else time.time() + 3600)),
            "X-RateLimit-Used": str(5000 - remaining), "X-RateLimit-Resource": "core"}


class _Served:
    """start() and url for a fake whose `handle` answers each request."""

    server: LoopbackServer | None
    handle: Callable[[Seen], Reply]

    def start(self) -> LoopbackServer:
        self.server = LoopbackServer(self.handle).start()
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


@dataclass
class FakeGitHub(_Served):
    tokens: set[str] = field(default_factory=lambda: {VALID_TOKEN})
    gist_scope: bool = True
    script: list[Reply] = field(default_factory=list)
    # name → bytes transform applied when a raw file is served (a corrupting CDN, say)
    serve_raw: Callable[[str, bytes], bytes] = lambda name, data: data
    # GitHub lists at most 300 files of a Gist and then says `"truncated": true`
    truncated_listing: bool = False
    lose: list[Loss] = field(default_factory=list)  # after `script`, one per POST
    list_script: list[Reply] = field(default_factory=list)  # replies to GET /gists, first
    late_s: float = 1.0
    clock: Callable[[], float] = time.time  # when a Gist is created or updated
    gists: dict[str, dict[str, bytes]] = field(default_factory=dict)  # id → name → bytes
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → description, times
    posts: list[Seen] = field(default_factory=list)
    lists: list[Seen] = field(default_factory=list)  # GET /gists
    reads: list[Seen] = field(default_factory=list)  # GET /gists/{id}
    raw_gets: list[Seen] = field(default_factory=list)
    server: LoopbackServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def handle(self, seen: Seen) -> Reply:
        path = urlsplit(seen.path).path
        if seen.method == "GET" and path.startswith("/raw/"):
            return self._raw(seen)
        if seen.method == "POST" and path == "/gists":
            self.posts.append(seen)
            if self.script:
                return self.script.pop(0)
            reply = self._create(seen)
            if reply.status == 201 and self.lose:
                return self._lost(self.lose.pop(0), reply)
            return reply
        if seen.method == "GET" and path == "/gists":
            self.lists.append(seen)
            if self.list_script:
                return self.list_script.pop(0)
            return self._authorized(seen) or self._list(seen)
        parts = path.split("/")
        if seen.method == "GET" and len(parts) == 3 and parts[1] == "gists":
            self.reads.append(seen)
            # Anyone may read a Gist by its id; a token, when sent, must be valid.
            anonymous = "Authorization" not in seen.headers
            return (None if anonymous else self._authorized(seen)) or self._read(parts[2])
        return github_error(404, "Not Found")

    def _authorized(self, seen: Seen) -> Reply | None:
        auth = seen.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.tokens:
            return github_error(401, "Bad credentials")
        return None

    def _lost(self, loss: Loss, created: Reply) -> Reply:
        """The Gist exists; its answer does not reach the client."""
        if loss == "502":  # what GitHub's front end sends when the backend's answer is late
            return Reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
        if loss == "late":
            time.sleep(self.late_s)
            return created
        # The loopback server closes a connection whose handler raises a ConnectionError,
        # without answering (tests/support/servers.py).
        raise ConnectionAbortedError("the answer to POST /gists is lost")

    def add(self, description: str | None, files: dict[str, bytes], *, public: bool = True,
            updated_at: float | None = None) -> str:
        """Store a Gist as if the user had made it; its id."""
        gist_id = f"{next(self._ids):032x}"
        now = self.clock()
        self.gists[gist_id] = dict(files)
        self.meta[gist_id] = {"description": description, "public": public, "created_at": now,
                              "updated_at": now if updated_at is None else updated_at}
        return gist_id

    def _gist(self, gist_id: str, *, content: bool) -> dict[str, Any]:
        """A Gist as the API shows it: with each file's content (cut at 1 MB) when `content`,
        as GET /gists/{id} and POST /gists answer; without, as GET /gists lists it."""
        meta = self.meta[gist_id]
        files = {}
        for name, data in self.gists[gist_id].items():
            entry: dict[str, Any] = {
                "filename": name, "type": "text/plain", "language": None,
                "raw_url": f"{self.url}/raw/rla-tester/{gist_id}/raw/{REV}/{name}",
                "size": len(data)}
            if content:
                entry |= {"truncated": len(data) > ONE_MB,
                          "content": data[:ONE_MB].decode("utf-8", "ignore")}
            files[name] = entry
        return {
            "url": f"{self.url}/gists/{gist_id}", "id": gist_id,
            "html_url": f"{self.url}/gist/rla-tester/{gist_id}",
            "git_pull_url": f"{self.url}/{gist_id}.git", "public": meta["public"],
            "description": meta["description"], "files": files,
            "truncated": self.truncated_listing,
            "owner": {"login": "rla-tester"}, "created_at": _iso(meta["created_at"]),
            "updated_at": _iso(meta["updated_at"]),
        }

    def _list(self, seen: Seen) -> Reply:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(seen.path).query).items()}
        try:
            since = (datetime.fromisoformat(query["since"]).timestamp() if "since" in query
                     else None)
            per_page = min(100, int(query.get("per_page", 30)))
            page = int(query.get("page", 1))
        except ValueError:
            return github_error(422, "Validation Failed")
        ids = sorted((i for i, m in self.meta.items()
                      if since is None or m["updated_at"] >= since),
                     key=lambda i: self.meta[i]["updated_at"], reverse=True)
        pages = max(1, -(-len(ids) // per_page))
        shown = ids[(page - 1) * per_page:page * per_page]

        def link(n: int) -> str:
            return f"<{self.url}/gists?{urlencode({**query, 'page': n})}>"

        rels = []
        if page < pages:
            rels += [f'{link(page + 1)}; rel="next"', f'{link(pages)}; rel="last"']
        if page > 1:
            rels += [f'{link(1)}; rel="first"', f'{link(page - 1)}; rel="prev"']
        headers = rate_headers(4998) | ({"Link": ", ".join(rels)} if rels else {})
        return Reply(200, [self._gist(i, content=False) for i in shown], headers=headers)

    def _read(self, gist_id: str) -> Reply:
        if gist_id not in self.gists:
            return github_error(404, "Not Found")
        return Reply(200, self._gist(gist_id, content=True), headers=rate_headers(4997))

    def _create(self, seen: Seen) -> Reply:
        refused = self._authorized(seen)
        if refused is not None:
            return refused
        if not self.gist_scope:
            # documented: without the gist scope GitHub answers 404, whatever the credentials
            return github_error(404, "Not Found")
        body = seen.body if isinstance(seen.body, dict) else {}
        files = body.get("files")
        errors = []
        if not isinstance(files, dict) or not files:
            errors.append({"resource": "Gist", "code": "missing_field", "field": "files"})
        else:
            for name, spec in files.items():
                if "/" in name:
                    errors.append({"resource": "Gist", "code": "invalid", "field": "files",
                                   "message": f"filename {name!r} is invalid"})
                if not isinstance(spec, dict) or not spec.get("content"):
                    errors.append({"resource": "Gist", "code": "missing_field",
                                   "field": f"files.{name}.content"})
        if errors:
            return github_error(422, "Validation Failed", errors=errors)
        gist_id = self.add(body.get("description"),
                           {name: spec["content"].encode("utf-8") for name, spec in files.items()},
                           public=bool(body.get("public")))
        return Reply(201, self._gist(gist_id, content=True),
                     headers={**rate_headers(4999), "Location": f"{self.url}/gists/{gist_id}"})

    def _raw(self, seen: Seen) -> Reply:
        self.raw_gets.append(seen)
        parts = seen.path.split("/")  # /raw/<user>/<id>/raw/<rev>/<name>
        gist_id, name = parts[3], parts[-1]
        data = self.gists.get(gist_id, {}).get(name)
        if data is None:
            return Reply(404, "404: Not Found", headers={"Content-Type": "text/plain"})
        return Reply(200, self.serve_raw(name, data),
                     headers={"Content-Type": "text/plain; charset=utf-8"})

    def uploaded(self) -> dict[str, bytes]:
        """The files of the one Gist created."""
        assert len(self.gists) == 1, self.gists.keys()
        return next(iter(self.gists.values()))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


LEADERBOARD_TOKEN = "rla_lb_" + "L" * 32


@dataclass
class FakeLeaderboard(_Served):
    tokens: set[str] = field(default_factory=lambda: {LEADERBOARD_TOKEN})
    script: list[Reply] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key → entry
    requests: list[Seen] = field(default_factory=list)
    validate: Callable[[Any], list[str]] = lambda payload: schemas.validate(
        payload, schemas.load_schema(schemas.submission_schema(payload)))
    server: LoopbackServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def handle(self, seen: Seen) -> Reply:
        self.requests.append(seen)
        if self.script:
            return self.script.pop(0)
        if seen.method != "POST" or seen.path not in ("/v1/submissions",
                                                       "/v1/submissions/dry-run"):
            return _lb_error(404, "not_found", "no such endpoint")
        auth = seen.headers.get("Authorization", "")
        if auth[len("Bearer "):] not in self.tokens or not auth.startswith("Bearer "):
            return _lb_error(401, "unauthorized", "invalid or missing bearer token")
        key = seen.headers.get("Idempotency-Key")
        if not key:
            return _lb_error(400, "missing_idempotency_key", "send an Idempotency-Key header")
        problems = self.validate(seen.body)
        if seen.path.endswith("/dry-run"):
            return Reply(200, {"valid": not problems, "errors": problems})
        if problems:
            return Reply(422, {"error": {"code": "invalid_payload",
                                         "message": "the payload does not match the schema",
                                         "details": problems}})
        if key in self.stored:
            entry = self.stored[key]
            return Reply(409, {"error": {"code": "duplicate",
                                         "message": "this idempotency key was used before"},
                               "id": entry["id"], "status": entry["status"]})
        entry = {"id": f"sub_{next(self._ids):04d}", "status": "queued", "payload": seen.body}
        self.stored[key] = entry
        return Reply(201, {"id": entry["id"], "status": "queued"},
                     headers={"X-RateLimit-Remaining": "29",
                              "X-RateLimit-Reset": str(int(time.time()) + 3600)})

    def submissions(self) -> list[Seen]:
        return [s for s in self.requests if s.path == "/v1/submissions"]


def _lb_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
