"""How the publish clients wait and retry: bounded, and never longer than the user would."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all for 5xx answers and connection errors, `backoff_s` doubling
    between them (a POST that may have taken effect is sent again only once the client has seen
    that it did not); a rate limit is waited out when it lifts within `max_wait_s`, else
    reported.
    `sleep` and `clock` are the real ones unless a caller (a benchmark, a test) passes others."""

    attempts: int = 4
    backoff_s: float = 1.0
    max_wait_s: float = 90.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        return self.backoff_s * (2 ** (attempt - 1))


def clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def iso_time(epoch: float) -> str:
    """ISO 8601 as GitHub's `since` takes it: YYYY-MM-DDTHH:MM:SSZ."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
