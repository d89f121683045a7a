"""Where publishing credentials come from. Called at the CLI edge only.

GitHub: GH_TOKEN, then GITHUB_TOKEN (gh's own order), then `gh auth token`. The leaderboard:
RLA_SUBMIT_TOKEN. Tokens are never taken from flags (shell history keeps those).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

from runlocalai_bench.errors import PublishError

LEADERBOARD_TOKEN_ENV = "RLA_SUBMIT_TOKEN"


def github_token(env: Mapping[str, str]) -> str:
    for name in ("GH_TOKEN", "GITHUB_TOKEN"):
        if env.get(name, "").strip():
            return env[name].strip()
    gh = shutil.which("gh", path=env.get("PATH"))
    if gh:
        try:
            out = subprocess.run([gh, "auth", "token"], capture_output=True, text=True,
                                 timeout=15, check=False, env=dict(env))
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[0].strip()
    raise PublishError("no GitHub token (GH_TOKEN and GITHUB_TOKEN are unset, and `gh auth token`"
                       " gave none)",
                       hint="export GH_TOKEN=<token with the gist scope>, or `gh auth login -s"
                       " gist`")


def leaderboard_token(env: Mapping[str, str]) -> str:
    token = env.get(LEADERBOARD_TOKEN_ENV, "").strip()
    if not token:
        raise PublishError(f"no leaderboard token ({LEADERBOARD_TOKEN_ENV} is unset)",
                           hint=f"export {LEADERBOARD_TOKEN_ENV}=<your RunLocalAI API token>")
    return token
