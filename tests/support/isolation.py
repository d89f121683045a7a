"""What an isolation level guarantees, as the sandbox tests decide which cases apply: read from
the `Isolation` a sandbox reports (its level and mechanisms)."""

from __future__ import annotations

from runlocalai_bench.scoring.sandbox import Isolation


def confines_files(isolation: Isolation) -> bool:
    return isolation.level in ("namespaces", "landlock")


def blocks_network(isolation: Isolation) -> bool:
    return "network-namespace" in isolation.mechanisms or "seccomp" in isolation.mechanisms


def blocks_processes(isolation: Isolation) -> bool:
    return "seccomp" in isolation.mechanisms
