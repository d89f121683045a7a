"""Every task spec's bytes are pinned: a spec is a benchmark's methodology, and a changed
methodology must get a new slug so old and new scores are never compared by accident.

Adding a spec: add its slug and `sha256sum tasks/<slug>.toml` here. Changing one: copy it to a
new slug instead (the leaderboard treats the slug as the methodology's name)."""

from __future__ import annotations

import pytest

from runlocalai_bench import specs

PINS = {
    "humaneval-plus": "45a332a69fd1af5bb9aa4866d2aff0093e7af6416188efc22d62158540af82d9",
    "mmlu": "f6606d94287a0ef14a4e8764399621a8ec7da0577fe25526df5ec9ff6a9bee6d",
    "mmlu-generative": "8685a9ca4c64cf162f3b4c15ed0e455ac8bc46da7768a5c252fc209669479529",
    "selfcheck": "c5c17e3d09663b0c910258b958e93a00f857e7de6529285cae13cfe3d3325b08",
    "speed": "339ce26fb793b723eb24f8fc3e6b54047a3463a5252f6db140dab25135a1439f",
    "turkish-mmlu": "2798a5f27c4ab55f50a2f12f84faa1b850df5108c2e596248eb33b3295e9bded",
    "turkish-mmlu-generative": "86d25bbd40e3c350aea6abbd67d76a20513e017f80dbd604ba045b5fb666d4dc",
}


def test_every_task_spec_is_pinned() -> None:
    names = specs.spec_names("tasks")
    unpinned = sorted(set(names) - set(PINS))
    assert not unpinned, f"add these specs to PINS in {__file__}: {unpinned}"
    assert not sorted(set(PINS) - set(names)), "a pinned spec was removed or renamed"


@pytest.mark.parametrize("slug", sorted(PINS))
def test_spec_bytes_match_pin(slug: str) -> None:
    path = specs.spec_path("tasks", slug)
    assert specs.spec_sha256(path) == PINS[slug], (
        f"{path} changed: a new methodology needs a new slug (copy the file), "
        "or, for a change that does not alter scores, update the pin in the same commit")
