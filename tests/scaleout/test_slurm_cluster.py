"""The test cluster itself: an array job runs every task once, each with its own index and the
array's size in the environment, which is all `--shard` reads from Slurm."""

from __future__ import annotations

import pytest

from tests.support.slurm import SlurmError, require_slurm

TASK = """#!/bin/sh
printf '%s %s %s\\n' "$SLURM_ARRAY_TASK_ID" "$SLURM_ARRAY_TASK_COUNT" "$SLURM_ARRAY_TASK_MIN" \\
    > "$1/task-$SLURM_ARRAY_TASK_ID"
"""


def test_without_slurm_the_tests_skip_unless_mandatory(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("RLA_REQUIRE_TEST_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception, match="munged, slurmctld, slurmd"):
        require_slurm()
    monkeypatch.setenv("RLA_REQUIRE_TEST_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match=r"system-packages\.sh.*mandatory"):
        require_slurm()


@pytest.mark.integration
def test_a_four_task_array_job_sees_its_index_and_count(slurm, tmp_path):
    script = tmp_path / "task.sh"
    script.write_text(TASK)
    out = tmp_path / "out"
    out.mkdir()
    slurm.run_array(script, str(out), tasks=4, cwd=tmp_path)
    written = {path.name: path.read_text() for path in out.iterdir()}
    assert written == {f"task-{i}": f"{i} 4 0\n" for i in range(4)}


@pytest.mark.integration
def test_a_failed_task_fails_the_array_with_every_log(slurm, tmp_path):
    script = tmp_path / "fails.sh"
    script.write_text('#!/bin/sh\necho "task $SLURM_ARRAY_TASK_ID says no"\n'
                      '[ "$SLURM_ARRAY_TASK_ID" != 1 ] || exit 3\n')
    with pytest.raises(SlurmError) as failed:
        slurm.run_array(script, tasks=2, cwd=tmp_path)
    message = str(failed.value)
    assert "{0: ('COMPLETED', '0:0'), 1: ('FAILED', '3:0')}" in message
    assert "----- slurmctld.log -----" in message and "----- slurmd.log -----" in message
    assert "----- munged.out -----" in message
    assert "task 1 says no" in message and "task 0 says no" in message
