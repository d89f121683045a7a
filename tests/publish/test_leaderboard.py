"""LeaderboardClient against a loopback server speaking docs/submission-api.md."""

from __future__ import annotations

import pytest

from runlocalai_bench.errors import PublishError
from runlocalai_bench.publish.leaderboard import LeaderboardClient
from runlocalai_bench.publish.retry import RetryPolicy
from tests.publish.fakes import LEADERBOARD_TOKEN, FakeLeaderboard
from tests.support.servers import Reply

KEY = "k" * 64
PAYLOAD = {"schema_version": 1, "kind": "quality"}


def client(server: FakeLeaderboard, sleeps: list[float], token: str = LEADERBOARD_TOKEN,
           **retry) -> LeaderboardClient:
    return LeaderboardClient(server.url, token,
                             retry=RetryPolicy(sleep=sleeps.append, clock=lambda: 0.0, **retry))


@pytest.fixture
def board():
    # The transport under test, not the payload: this server takes any body.
    fake = FakeLeaderboard(validate=lambda payload: [])
    server = fake.start()
    yield fake
    server.stop()


def test_created_with_rate_limit_headers(board):
    with client(board, []) as lb:
        receipt = lb.submit(PAYLOAD, KEY)
    assert (receipt.id, receipt.status, receipt.duplicate) == ("sub_0001", "queued", False)
    assert receipt.rate_limit_remaining == 29 and receipt.rate_limit_reset
    (seen,) = board.requests
    assert seen.headers["Authorization"] == f"Bearer {LEADERBOARD_TOKEN}"
    assert seen.headers["Idempotency-Key"] == KEY and seen.body == PAYLOAD


def test_a_repeated_key_returns_the_original_submission(board):
    with client(board, []) as lb:
        first = lb.submit(PAYLOAD, KEY)
        again = lb.submit(PAYLOAD, KEY)
    assert again.duplicate and again.id == first.id and len(board.stored) == 1


def test_server_errors_are_retried_with_the_same_key(board):
    board.script = [Reply(503, {"error": {"code": "unavailable", "message": "try later"}})]
    sleeps: list[float] = []
    with client(board, sleeps) as lb:
        receipt = lb.submit(PAYLOAD, KEY)
    assert receipt.id == "sub_0001" and sleeps == [1.0]
    assert [s.headers["Idempotency-Key"] for s in board.requests] == [KEY, KEY]


def test_rate_limited_submissions_wait_retry_after_ms(board):
    board.script = [Reply(429, {"error": {"code": "rate_limited", "message": "slow down"},
                                "retryAfterMs": 1500}, headers={"Retry-After": "2"})]
    sleeps: list[float] = []
    with client(board, sleeps) as lb:
        assert lb.submit(PAYLOAD, KEY).id == "sub_0001"
    assert sleeps == [1.5]


def test_a_long_rate_limit_is_reported(board):
    board.script = [Reply(429, {"error": {"code": "rate_limited", "message": "slow down"},
                                "retryAfterMs": 3_600_000})]
    sleeps: list[float] = []
    with client(board, sleeps) as lb, pytest.raises(PublishError) as info:
        lb.submit(PAYLOAD, KEY)
    assert "rate limit" in info.value.message and "try again after" in (info.value.hint or "")
    assert sleeps == [] and board.stored == {}


def test_bad_token(board):
    with client(board, [], token="nope") as lb, pytest.raises(PublishError) as info:
        lb.submit(PAYLOAD, KEY)
    assert "401" in info.value.message and "RLA_SUBMIT_TOKEN" in (info.value.hint or "")


def test_invalid_payload_lists_the_servers_details(board):
    board.validate = lambda payload: ["$.model.quantization: missing"]
    with client(board, []) as lb, pytest.raises(PublishError) as info:
        lb.submit(PAYLOAD, KEY)
    assert "422" in info.value.message and "$.model.quantization: missing" in info.value.message
    assert board.stored == {}


def test_dry_run_validates_and_stores_nothing(board):
    with client(board, []) as lb:
        ok = lb.dry_run(PAYLOAD, KEY)
        board.validate = lambda payload: ["$.rig: missing"]
        bad = lb.dry_run(PAYLOAD, KEY)
    assert ok.valid and ok.errors == ()
    assert not bad.valid and bad.errors == ("$.rig: missing",)
    assert board.stored == {} and {s.path for s in board.requests} == {"/v1/submissions/dry-run"}


@pytest.mark.parametrize("body,message", [
    ("[" * 100_000 + "]" * 100_000, "nests 100,000 levels deep"),
    ('{"id": "sub_1", "status": "queued", "n": Infinity}', "holds Infinity"),
    ("[1]", "answered 201 with something other than a JSON object"),
])
def test_a_hostile_answer_is_refused_by_the_bounded_reader(board, body, message):
    board.script = [Reply(201, body.encode())]
    with client(board, []) as lb, pytest.raises(PublishError) as info:
        lb.submit(PAYLOAD, KEY)
    assert message in info.value.message and "RLA_LEADERBOARD_URL" in (info.value.hint or "")
