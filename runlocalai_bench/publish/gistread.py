"""A public Gist read back for review: its id from its URL, and the raw URLs of its files.

As documented (docs.github.com/rest/gists/gists, API version 2022-11-28):

    GET {api}/gists/{gist_id}
      200  {"id", "html_url", "files": {name: {"filename", "raw_url", "size", "truncated"}}}
      404  no such Gist (or a secret one)
      403 / 429  a rate limit (60 requests an hour without a token)

Each file is then fetched whole from its `raw_url` by the publishing Gist client
(`GistClient.fetch_raw`). review/source.py lays the files out as a run directory.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse, urlsplit

import httpx

from runlocalai_bench import __version__, jsonio
from runlocalai_bench.errors import ConfigError, PublishError
from runlocalai_bench.publish.gist import API_VERSION, DEFAULT_API_URL

GITHUB_RAW_HOST = "gist.githubusercontent.com"

# Gist ids are hexadecimal: 20 or 32 digits today, and short decimal numbers on the oldest Gists.
_GIST_ID = re.compile(r"^[0-9a-fA-F]{1,64}$")


def raw_host(api_url: str) -> str:
    """Where a Gist's raw files may be served from: GitHub's raw host for api.github.com, the
    API's own host for GitHub Enterprise (and the loopback API of the tests)."""
    if api_url.rstrip("/") == DEFAULT_API_URL:
        return GITHUB_RAW_HOST
    return urlsplit(api_url).hostname or ""


def gist_id_from_url(url: str) -> str:
    """`https://gist.github.com/<user>/<id>` (or `/<id>`, `.git`, `#file-…`) → `<id>`: the last
    path segment, whatever the user's name."""
    parts = [p for p in urlparse(url).path.split("/") if p]
    candidate = parts[-1].removesuffix(".git") if parts else ""
    if not _GIST_ID.match(candidate):
        raise ConfigError(f"{url} is not a Gist URL", hint="pass the Gist's address, e.g. "
                          "https://gist.github.com/<user>/<id>, a run directory or a record file")
    return candidate


def gist_files(gist_id: str, *, api_url: str, token: str | None,
                timeout: float) -> dict[str, str]:
    """name → raw_url of the Gist's files: all of them (a listing GitHub cut short, `truncated`,
    is refused), each served from the Gist raw host of this API (`raw_host`)."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
               "User-Agent": f"rla/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{api_url.rstrip('/')}/gists/{gist_id}"
    try:
        with httpx.Client(timeout=timeout, headers=headers) as http:
            response = http.get(url)
    except httpx.TransportError as exc:
        raise PublishError(f"cannot reach the GitHub API at {api_url}: {exc}",
                           hint="check the network, or --github-api-url") from exc
    if response.status_code == 404:
        raise PublishError(f"GitHub has no public Gist {gist_id}",
                           hint="check the URL; secret Gists need their owner's token")
    if response.status_code in (403, 429):
        raise PublishError(f"GitHub refused to read Gist {gist_id} ({response.status_code}),"
                           " probably a rate limit",
                           hint="wait an hour, or export GH_TOKEN to read with a token")
    if response.status_code != 200:
        raise PublishError(f"unexpected answer from GitHub for Gist {gist_id}: "
                           f"{response.status_code}", hint="check --github-api-url")
    try:
        body: Any = jsonio.loads(response.content, f"GitHub's answer for Gist {gist_id}")
        files = {str(name): str(entry["raw_url"]) for name, entry in body["files"].items()}
        truncated = body.get("truncated") is True
    except (KeyError, TypeError, AttributeError) as exc:
        raise PublishError(f"GitHub's answer for Gist {gist_id} lacks its files",
                           hint="check --github-api-url") from exc
    if truncated:
        raise PublishError(f"GitHub lists only part of Gist {gist_id}'s files (truncated)",
                           hint="a run's Gist holds a few files: ask for the run to be"
                           " published again to a new Gist")
    host = raw_host(api_url)
    for name, raw_url in files.items():
        if urlsplit(raw_url).hostname != host:
            raise PublishError(f"Gist {gist_id}'s {name} is served from"
                               f" {urlsplit(raw_url).hostname}, not {host}",
                               hint="read Gists through GitHub's own API (--github-api-url)")
    return files
