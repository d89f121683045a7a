"""Loopback servers that speak the GitHub Gist API and rla's leaderboard API.

FakeGitHub follows docs.github.com/rest/gists/gists (API version 2022-11-28): POST /gists with a
Bearer token answers 201 with id, html_url and files (raw_url, size, truncated; content cut at
1 MB), or the documented errors with GitHub's error bodies {"message", "documentation_url",
"status"}; raw URLs serve the stored bytes. A file name with a '/' is refused with 422, as GitHub
does (Gists have no folders: defunkt/gist#131). FakeLeaderboard follows docs/submission-api.md
and validates each payload against the schema its `kind` names. `script` queues replies to give
before behaving normally, so a test states a failure sequence.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runlocalai_bench import schemas
from tests.support.servers import LoopbackServer, Reply, Seen

GITHUB_DOCS = "https://docs.github.com/rest/gists/gists#create-a-gist"
ONE_MB = 1024 * 1024
VALID_TOKEN = "ghp_" + "T" * 36


def github_error(status: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"message": message, "documentation_url": GITHUB_DOCS,
                          "status": str(status), **extra})


def rate_headers(remaining: int, reset: float | None = None) -> dict[str, str]:
    return {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset if reset is not None else time.time() + 3600)),
            "X-RateLimit-Used": str(5000 - remaining), "X-RateLimit-Resource": "core"}


@dataclass
class FakeGitHub:
    tokens: set[str] = field(default_factory=lambda: {VALID_TOKEN})
    gist_scope: bool = True
    script: list[Reply] = field(default_factory=list)
    # name → bytes transform applied when a raw file is served (a corrupting CDN, say)
    serve_raw: Callable[[str, bytes], bytes] = lambda name, data: data
    gists: dict[str, dict[str, bytes]] = field(default_factory=dict)
    posts: list[Seen] = field(default_factory=list)
    raw_gets: list[Seen] = field(default_factory=list)
    server: LoopbackServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def start(self) -> LoopbackServer:
        self.server = LoopbackServer(self.handle).start()
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def handle(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path.startswith("/raw/"):
            return self._raw(seen)
        if seen.method == "POST" and seen.path == "/gists":
            self.posts.append(seen)
            if self.script:
                return self.script.pop(0)
            return self._create(seen)
        return github_error(404, "Not Found")

    def _create(self, seen: Seen) -> Reply:
        auth = seen.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.tokens:
            return github_error(401, "Bad credentials")
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
        gist_id = f"{next(self._ids):032x}"
        stored = {name: spec["content"].encode("utf-8") for name, spec in files.items()}
        self.gists[gist_id] = stored
        rev = "a" * 40
        out_files = {}
        for name, data in stored.items():
            content = data[:ONE_MB].decode("utf-8", "ignore")
            out_files[name] = {
                "filename": name, "type": "text/plain", "language": None,
                "raw_url": f"{self.url}/raw/rla-tester/{gist_id}/raw/{rev}/{name}",
                "size": len(data), "truncated": len(data) > ONE_MB, "content": content,
            }
        return Reply(201, {
            "url": f"{self.url}/gists/{gist_id}", "id": gist_id,
            "html_url": f"{self.url}/gist/rla-tester/{gist_id}",
            "git_pull_url": f"{self.url}/{gist_id}.git", "public": body.get("public"),
            "description": body.get("description"), "files": out_files, "truncated": False,
            "owner": {"login": "rla-tester"}, "created_at": "2026-05-01T00:00:00Z",
        }, headers={**rate_headers(4999), "Location": f"{self.url}/gists/{gist_id}"})

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


LEADERBOARD_TOKEN = "rla_lb_" + "L" * 32


@dataclass
class FakeLeaderboard:
    tokens: set[str] = field(default_factory=lambda: {LEADERBOARD_TOKEN})
    script: list[Reply] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key → entry
    requests: list[Seen] = field(default_factory=list)
    validate: Callable[[Any], list[str]] = lambda payload: schemas.validate(
        payload, schemas.load_schema(schemas.submission_schema(payload)))
    server: LoopbackServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def start(self) -> LoopbackServer:
        self.server = LoopbackServer(self.handle).start()
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

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
