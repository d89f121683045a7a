"""The scale-out tests' engines: a single-node Slurm cluster for the session
(tests/support/slurm.py), started on first use and stopped at the end."""

from __future__ import annotations

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
