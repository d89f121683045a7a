"""The scale-out examples in docs/scale-out/, read as their engines read them: each one's
environment, as the engine sets it task by task, maps through `shards.shard_from_env` onto
shards 0 … N-1 of N, each exactly once. (The Slurm script also runs for real:
test_slurm_shards.py.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml  # PyYAML: a dependency of datasets, one of rla's own

from runlocalai_bench.shards import Shard, shard_from_env

DOCS = Path(__file__).parents[2] / "docs" / "scale-out"


def shard_flag(command: str) -> str:
    """The value `rla bench … --shard VALUE` is given in the one command line that runs it."""
    (line,) = (line for line in command.splitlines()
               if re.match(r"\s*(\S*/)?rla bench\b", line))
    words = shlex.split(line, comments=True)
    return words[words.index("--shard") + 1]


def slurm_array_env(spec: str) -> list[dict[str, str]]:
    """The array variables Slurm sets in each task of `--array=A-B[:S]` (sbatch(1))."""
    match = re.fullmatch(r"(\d+)-(\d+)(?::(\d+))?", spec)
    assert match, f"--array={spec} is not a range"
    low, high, step = int(match[1]), int(match[2]), int(match[3] or 1)
    tasks = range(low, high + 1, step)
    return [{"SLURM_ARRAY_JOB_ID": "1234", "SLURM_ARRAY_TASK_ID": str(task),
             "SLURM_ARRAY_TASK_MIN": str(low), "SLURM_ARRAY_TASK_MAX": str(tasks[-1]),
             "SLURM_ARRAY_TASK_STEP": str(step), "SLURM_ARRAY_TASK_COUNT": str(len(tasks))}
            for task in tasks]


def test_the_slurm_array_script_maps_its_tasks_onto_the_shards():
    script = (DOCS / "slurm-array.sh").read_text()
    directives = dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)", script, flags=re.M))
    envs = slurm_array_env(directives["array"])
    flag = shard_flag(script)
    assert flag == "auto"
    shards = [shard_from_env(flag, env) for env in envs]
    assert shards == [Shard(i, len(envs), "slurm") for i in range(len(envs))] and len(envs) == 4
    # a resubmission over another range of task ids still gives every shard once
    assert [shard_from_env(flag, env) for env in slurm_array_env("10-16:2")] == [
        Shard(i, 4, "slurm") for i in range(4)]
    assert "gres" not in directives  # left disabled (##SBATCH): a CPU-only cluster takes it


def test_the_kubernetes_indexed_job_maps_its_pods_onto_the_shards():
    job = yaml.safe_load((DOCS / "k8s-indexed-job.yaml").read_text())
    assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
    completions = job["spec"]["completions"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {}
    for variable in container["env"]:
        assert set(variable) == {"name", "value"}, variable  # literal values only
        env[variable["name"]] = variable["value"]
    flag = shard_flag("\n".join(container["args"]))
    # Kubernetes sets JOB_COMPLETION_INDEX in each pod, 0 … completions-1
    shards = [shard_from_env(flag, {**env, "JOB_COMPLETION_INDEX": str(index)})
              for index in range(completions)]
    assert shards == [Shard(i, completions, "kubernetes") for i in range(completions)]
    assert completions == 4 and job["spec"]["parallelism"] <= completions


GITHUB_EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def test_the_github_matrix_maps_its_jobs_onto_the_shards():
    workflow = yaml.safe_load((DOCS / "github-matrix.yml").read_text())
    shard_job = workflow["jobs"]["shard"]
    values = shard_job["strategy"]["matrix"]["shard"]
    assert set(shard_job["strategy"]["matrix"]) == {"shard"}  # one dimension: one job a value
    (command,) = (step["run"] for step in shard_job["steps"]
                  if "rla bench" in step.get("run", ""))
    flag = shard_flag(GITHUB_EXPRESSION.sub("EXPR", command))
    shards = []
    for index, value in enumerate(values):
        context = {"matrix.shard": str(value), "strategy.job-index": str(index),
                   "strategy.job-total": str(len(values))}

        def evaluate(match: re.Match[str], context: dict[str, str] = context) -> str:
            assert match[1] in context, f"an expression this test cannot evaluate: {match[0]}"
            return context[match[1]]

        env = {name: GITHUB_EXPRESSION.sub(evaluate, str(text))
               for name, text in shard_job["env"].items()}
        shards.append(shard_from_env(flag, env))
    assert shards == [Shard(i, len(values), "rla") for i in range(len(values))]
    assert flag == "auto" and len(values) == 4
    assert workflow["jobs"]["merge"]["needs"] == "shard"
