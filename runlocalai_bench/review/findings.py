"""One finding of `rla verify`: which check, its status, what it says, where (file and field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str
    file: str | None = None
    field: str | None = None
    hint: str | None = None
    # a skipped check the verdict needs (the rescore without the data, samples the Gist does not
    # hold): while it is skipped the run is not verified
    needed: bool = False

    def where(self) -> str:
        return ":".join(p for p in (self.file, self.field) if p)
