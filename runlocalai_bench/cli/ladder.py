"""`rla ladder ORIGINAL REPRODUCTION…`: the trust state a row reaches from its reproductions."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer

from runlocalai_bench import ui
from runlocalai_bench.cli._common import (
    DataDir,
    GithubApiUrl,
    KeyringFile,
    cache_home,
    keyring_path,
    open_submission,
)


def ladder(
    original: str = typer.Argument(..., help="The row: record file, run directory, run id or "
                                   "Gist URL."),
    reproductions: list[str] = typer.Argument(None, help="Its reproductions, in the same "
                                              "forms."),
    keyring: KeyringFile = None,
    data_dir: DataDir = None,
    github_api_url: GithubApiUrl = None,
    json_output: bool = typer.Option(False, "--json", help="Print the state as JSON."),
) -> None:
    """Verify the row, check each reproduction's signature and its verdict against the row, and
    print the state it reaches in its kind's vocabulary (quality: COMMUNITY / VERIFIED /
    FIRST-PARTY; tok/s: Community submitted / Reproduced / Independently reproduced, with a
    confidence; or Related / Rejected), which reproductions count and why the others do not.
    Only keys in the keyring (`rla keys trust`) count."""
    from runlocalai_bench.cli.render import print_json
    from runlocalai_bench.keyring import read_keyring
    from runlocalai_bench.review.standing import standing

    known = read_keyring(keyring_path(keyring))
    with ExitStack() as stack:
        row = stack.enter_context(open_submission(original, github_api_url))
        reruns = [stack.enter_context(open_submission(ref, github_api_url))
                  for ref in reproductions or ()]
        result = standing(row, reruns, known, data_dir=data_dir and Path(data_dir),
                          cache_dir=cache_home())
    out = ui.stdout_console()
    if json_output:
        print_json(out, result.to_json())
    else:
        out.print(result)
