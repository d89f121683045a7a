"""A forger's edit of a speed record, shared by the gate's, the publish flow's and the editor's
tests: the figures rewritten consistently, so only physics and the logs can give it away."""

from __future__ import annotations

from typing import Any


def forge_decode(record: dict[str, Any], tps: float) -> None:
    """Rewrite every counted run as if the engine had decoded at `tps`: its timing object, the
    tokens' arrival times (at the same pace), the derived figures and the summary."""
    for run in record["speed"]["runs"]:
        if not run["counted"]:
            continue
        t = run["raw"]["engine"]
        t["predicted_ms"] = (t["predicted_n"] - 1) * 1000.0 / tps
        t["predicted_per_token_ms"] = 1000.0 / tps
        t["predicted_per_second"] = tps
        run["metrics"]["decode_tps"] = tps
        if run["metrics"].get("engine"):
            run["metrics"]["engine"]["decode_tps"] = tps
        first = run["raw"]["arrivals_ms"][0]
        run["raw"]["arrivals_ms"] = [first + i * 1000.0 / tps
                                     for i in range(len(run["raw"]["arrivals_ms"]))]
    for key in ("median", "minimum", "maximum"):
        record["speed"]["summary"]["decode_tps"][key] = tps
