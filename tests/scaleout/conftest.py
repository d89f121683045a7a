"""The scale-out tests' engines: a single-node Slurm cluster for the session
(tests/support/slurm.py), started on first use and stopped at the end. A test that uses it and
fails shows every daemon's log and every job's output in a "Slurm logs" section (a SlurmError
carries them in its message already)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.slurm import SlurmCluster, SlurmError, require_slurm


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    require_slurm()
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                        pytest.TestReport]:
    report = yield
    cluster = getattr(item, "funcargs", {}).get("slurm")
    if (report.failed and isinstance(cluster, SlurmCluster)
            and not (call.excinfo and call.excinfo.errisinstance(SlurmError))):
        report.sections.append(("Slurm logs", cluster.logs()))
    return report
