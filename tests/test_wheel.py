"""The wheel carries everything `rla` needs: build it, install it into a new virtual
environment, and run it from outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(work / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((work / "dist").glob("runlocalai_bench-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig;"
                                "print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # Third-party dependencies come from the test environment's site-packages (a plain path:
    # its .pth files, and so the editable rla checkout, are not processed from there).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    return python


def wheel_env() -> dict[str, str]:
    """The environment without PYTHONPATH, which would put a checkout before the wheel."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "runlocalai_bench", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=wheel_env())


def test_wheel_contains_specs_and_bundled_data(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed), "-c", "import runlocalai_bench, runlocalai_bench.specs as s;"
         "print(runlocalai_bench.__file__); print(s.spec_dir('tasks'))"],
        capture_output=True, text=True, check=True, cwd=tmp_path, env=wheel_env()).stdout.split()
    assert not Path(where[0]).is_relative_to(ROOT), "imported the checkout, not the wheel"
    assert where[1].endswith("runlocalai_bench/_specs/tasks")
    assets = Path(where[0]).parent / "report" / "assets"  # inlined into every run report
    assert {p.name for p in assets.iterdir()} >= {"report.css", "report.js"}
    for kind in ("tasks", "runners", "hardware", "configs"):
        shipped = {p.name for p in (Path(where[1]).parent / kind).glob("*.toml")}
        in_repo = {p.name for p in (ROOT / kind).glob("*.toml")}
        assert shipped == in_repo, kind


def test_installed_rla_runs_its_selftest(installed: Path, tmp_path: Path) -> None:
    proc = run(installed, "selftest", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert {r["slug"] for r in results} >= {"selfcheck", "mmlu"}
    assert all(r["ok"] for r in results)
