"""GistClient against a loopback server speaking GitHub's documented Gist API."""

from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from runlocalai_bench.errors import PublishError
from runlocalai_bench.publish.gist import GistClient
from runlocalai_bench.publish.retry import RetryPolicy
from tests.publish.fakes import VALID_TOKEN, github_error, rate_headers
from tests.support.servers import Reply, free_port

NOW = 1_800_000_000.0
MARKER = "[rla:run-1:0123456789ab]"


def client(github, sleeps: list[float], token: str = VALID_TOKEN, **retry) -> GistClient:
    policy = RetryPolicy(sleep=sleeps.append, clock=lambda: NOW, **retry)
    return GistClient(token, api_url=github.url, retry=policy)


def test_create_sends_the_documented_request_and_reads_files_back(github):
    sleeps: list[float] = []
    with client(github, sleeps) as gh:
        gist = gh.create("a run", {"run.log": "line 1\nline 2\n", "README.md": "# hi\n"},
                         marker=MARKER)
        copy = gh.fetch_raw(gist.files["run.log"].raw_url)
    assert copy == b"line 1\nline 2\n"
    (post,) = github.posts
    assert post.headers["Authorization"] == f"Bearer {VALID_TOKEN}"
    assert post.headers["Accept"] == "application/vnd.github+json"
    assert post.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert post.body == {"description": f"a run {MARKER}", "public": True,
                         "files": {"run.log": {"content": "line 1\nline 2\n"},
                                   "README.md": {"content": "# hi\n"}}}
    assert gist.html_url.endswith(gist.id) and set(gist.files) == {"run.log", "README.md"}
    assert "Authorization" not in github.raw_gets[0].headers  # the token stays with the API
    assert sleeps == []


def test_content_over_one_megabyte_is_truncated_in_the_answer_but_whole_at_the_raw_url(github):
    big = "x" * (1024 * 1024 + 10) + "\n"
    with client(github, []) as gh:
        gist = gh.create("big", {"samples.jsonl": big}, marker=MARKER)
        assert gist.files["samples.jsonl"].truncated
        assert gh.fetch_raw(gist.files["samples.jsonl"].raw_url) == big.encode()


def test_bad_credentials(github):
    with client(github, [], token="ghp_" + "W" * 36) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert "401" in info.value.message and "Bad credentials" in info.value.message
    assert "GH_TOKEN" in (info.value.hint or "")
    assert len(github.posts) == 1  # not retried


def test_missing_gist_scope_answers_404(github):
    github.gist_scope = False
    with client(github, []) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert "404" in info.value.message and "gist scope" in (info.value.hint or "")
    assert len(github.posts) == 1


def test_forbidden_without_a_rate_limit_is_a_scope_problem(github):
    github.script = [Reply(403, {"message": "Resource not accessible by personal access token",
                                 "documentation_url": "https://docs.github.com/rest"},
                           headers=rate_headers(4990))]
    with client(github, []) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert "403" in info.value.message and "gist scope" in (info.value.hint or "")
    assert len(github.posts) == 1


def test_validation_failed_lists_githubs_errors(github):
    with client(github, []) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"empty.txt": ""}, marker=MARKER)
    assert "422 Validation Failed" in info.value.message
    assert "files.empty.txt.content" in info.value.message and "missing_field" in info.value.message
    assert len(github.posts) == 1 and github.lists == []  # GitHub said no: nothing to look for


def test_primary_rate_limit_waits_until_the_reset_then_retries(github):
    github.script = [github_error(403, "API rate limit exceeded for user ID 1.")]
    github.script[0].headers = rate_headers(0, reset=NOW + 42)
    sleeps: list[float] = []
    with client(github, sleeps) as gh:
        gist = gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert sleeps == [42.0] and len(github.posts) == 2 and gist.id


def test_a_rate_limit_that_lifts_too_late_is_reported_not_waited(github):
    github.script = [Reply(403, {"message": "API rate limit exceeded for user ID 1.",
                                 "documentation_url": "https://docs.github.com/rest"},
                           headers=rate_headers(0, reset=NOW + 3600))]
    sleeps: list[float] = []
    with client(github, sleeps) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert "rate limit" in info.value.message
    assert "try again after" in (info.value.hint or "")
    assert sleeps == [] and len(github.posts) == 1


def test_retry_after_is_honoured_on_429_and_secondary_limits(github):
    github.script = [
        Reply(429, {"message": "Too Many Requests"}, headers={"Retry-After": "7"}),
        github_error(403, "You have exceeded a secondary rate limit. Please wait a few minutes."),
    ]
    sleeps: list[float] = []
    with client(github, sleeps) as gh:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert sleeps == [7.0, 60.0] and len(github.posts) == 3


def test_server_errors_are_retried_with_backoff_then_succeed(github):
    github.script = [github_error(502, "Server Error"), github_error(503, "Unavailable")]
    sleeps: list[float] = []
    with client(github, sleeps, backoff_s=0.5) as gh:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert sleeps == [0.5, 1.0] and len(github.posts) == 3 and len(github.gists) == 1
    assert len(github.lists) == 2  # each re-send only after seeing that no Gist was made


def test_server_errors_give_up_after_the_bounded_attempts(github):
    github.script = [github_error(500, "Server Error") for _ in range(10)]
    sleeps: list[float] = []
    with client(github, sleeps, attempts=3) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert "500" in info.value.message and "3 times" in info.value.message
    # a search after each, the last too: a Gist made by the third POST would still be adopted
    assert len(github.posts) == 3 and len(github.lists) == 3 and sleeps == [1.0, 2.0, 4.0]
    assert github.gists == {} and MARKER in (info.value.hint or "")


def test_unreachable_api():
    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append, attempts=2)
    with GistClient(VALID_TOKEN, api_url=f"http://127.0.0.1:{free_port()}",
                    retry=policy) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert "cannot reach" in info.value.message and len(sleeps) == 1


def test_a_raw_file_that_never_appears(github):
    sleeps: list[float] = []
    with client(github, sleeps, attempts=3) as gh, pytest.raises(PublishError) as info:
        gh.fetch_raw(f"{github.url}/raw/rla-tester/nope/raw/{'a' * 40}/run.log")
    assert "404" in info.value.message and len(github.raw_gets) == 3


# -- a POST whose answer is lost -------------------------------------------------------------
# POST /gists is not idempotent: when GitHub made the Gist but its answer never arrived, sending
# it again would make a second public Gist. The client looks for its marker first.


def real_clock_client(github, sleeps: list[float], timeout: float = 60.0,
                      **retry) -> GistClient:
    """The real clock, which the fake also keeps: `since` is compared with its times."""
    return GistClient(VALID_TOKEN, api_url=github.url, timeout=timeout,
                      retry=RetryPolicy(sleep=sleeps.append, **retry))


@pytest.mark.parametrize("loss", ["502", "hang up", "late"])
def test_a_gist_made_but_not_answered_is_found_by_its_marker_not_made_again(github, loss):
    github.lose = [loss]
    github.late_s = 0.6
    sleeps: list[float] = []
    with real_clock_client(github, sleeps, timeout=0.3) as gh:
        gist = gh.create("a run", {"run.log": "line 1\n", "README.md": "# hi\n"},
                         marker=MARKER)
        assert gh.fetch_raw(gist.files["run.log"].raw_url) == b"line 1\n"
    (gist_id,) = github.gists
    assert len(github.posts) == 1 and gist.id == gist_id and gist.html_url.endswith(gist_id)
    assert github.meta[gist_id]["description"] == f"a run {MARKER}"
    assert set(gist.files) == {"run.log", "README.md"} and sleeps == [1.0]
    (listed,) = github.lists
    query = parse_qs(urlsplit(listed.path).query)
    assert query["per_page"] == ["100"]
    since = datetime.fromisoformat(query["since"][0]).timestamp()
    assert since <= github.meta[gist_id]["created_at"]
    assert [r.path for r in github.reads] == [f"/gists/{gist_id}"]


def test_a_502_before_anything_was_made_is_sent_again_once_nothing_is_found(github):
    github.script = [Reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")]
    github.add(f"an earlier attempt [rla:run-1:{'f' * 12}]", {"a.txt": b"a"})  # not this one
    sleeps: list[float] = []
    with real_clock_client(github, sleeps) as gh:
        gist = gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert len(github.posts) == 2 and len(github.lists) == 1 and github.reads == []
    assert len(github.gists) == 2 and github.meta[gist.id]["description"] == f"d {MARKER}"


def test_the_search_follows_the_link_header_to_later_pages(github):
    now = time.time()
    for n in range(150):  # Gists edited elsewhere meanwhile: listed before this one
        github.add(f"other {n}", {"x.txt": b"x"}, updated_at=now + 60 + n)
    github.lose = ["502"]
    with real_clock_client(github, []) as gh:
        gist = gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert len(github.posts) == 1 and len(github.gists) == 151
    assert github.meta[gist.id]["description"] == f"d {MARKER}"
    first, second = (parse_qs(urlsplit(s.path).query) for s in github.lists)
    assert "page" not in first and second["page"] == ["2"]
    assert second["since"] == first["since"] and second["per_page"] == ["100"]


def test_a_search_that_cannot_finish_sends_nothing_again(github):
    github.lose = ["502"]
    github.list_script = [github_error(500, "Server Error") for _ in range(10)]
    sleeps: list[float] = []
    with real_clock_client(github, sleeps) as gh, pytest.raises(PublishError) as info:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert len(github.posts) == 1 and len(github.gists) == 1
    assert "cannot tell" in info.value.message and MARKER in (info.value.hint or "")


def test_a_rate_limit_is_not_an_unknown_outcome(github):
    github.script = [Reply(429, {"message": "Too Many Requests"}, headers={"Retry-After": "3"})]
    sleeps: list[float] = []
    with real_clock_client(github, sleeps) as gh:
        gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert sleeps == [3.0] and len(github.posts) == 2 and github.lists == []


def test_a_gist_made_by_the_last_post_is_still_adopted(github):
    github.script = [github_error(500, "Server Error"), github_error(500, "Server Error")]
    github.lose = ["hang up"]
    with real_clock_client(github, [], attempts=3) as gh:
        gist = gh.create("d", {"a.txt": "a"}, marker=MARKER)
    assert len(github.posts) == 3 and list(github.gists) == [gist.id]
