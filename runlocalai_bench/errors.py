"""Errors a user can cause, each with a hint. The CLI renders them once as `error:` / `hint:`.

The tree is short on purpose:

    RlaError               anything rla reports to the user without a traceback
    ├── ConfigError        flags, presets, specs, resume mismatches
    ├── DataError          datasets missing, unreadable, or not matching their pinned hash
    ├── ModelFileError     a GGUF that is missing, unreadable or corrupt
    ├── EndpointError      a server that is unreachable, loading, or not OpenAI-compatible
    ├── BackendError       a request that failed after its retries
    ├── RunDirError        an output directory that cannot be written or read back
    ├── RecordError        a record, results file or sample line that is damaged, hostile or of
    │                      a version this rla does not read (not a usage error: exit 1)
    └── PublishError       Gist and leaderboard API failures
"""

from __future__ import annotations


class RlaError(Exception):
    """An error with a one-line message and a one-line hint on what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(RlaError):
    exit_code = 2


class DataError(RlaError):
    pass


class ModelFileError(RlaError):
    pass


class EndpointError(RlaError):
    pass


class BackendError(RlaError):
    """A single request failed for good. `retryable` says whether the endpoint itself is gone."""

    def __init__(self, message: str, hint: str | None = None, *, fatal: bool = False) -> None:
        super().__init__(message, hint)
        self.fatal = fatal


class RunDirError(RlaError):
    pass


class RecordError(RlaError):
    """`field` is the JSON path of what is wrong (`results.n`) when one field is."""

    def __init__(self, message: str, hint: str | None = None, *,
                 field: str | None = None) -> None:
        super().__init__(message, hint)
        self.field = field


class PublishError(RlaError):
    pass
