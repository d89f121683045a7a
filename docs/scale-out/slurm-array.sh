#!/bin/bash
# One benchmark as a Slurm job array: each task runs one shard, `rla merge` joins them
# (docs/scale-out.md). Every task should run on the same kind of node: a row is one rig.
#
#   jobid=$(RLA_GGUF=/models/model-Q4_K_M.gguf sbatch --parsable slurm-array.sh mmlu)
#   sbatch --dependency=afterok:"$jobid" --kill-on-invalid-dep=yes \
#       --wrap "rla merge rla-runs/$jobid/* -o rla-runs/$jobid-merged"
#
# Each task serves RLA_GGUF with its own llama-server on the node it lands on (llama-server on
# PATH), or, without RLA_GGUF, asks the server RLA_ENDPOINT names. Arguments after the slug go
# to `rla bench` (--config leaderboard, --data-dir …). When some tasks failed (the merge job is
# then cancelled), submitting the same command again with RLA_JOB=<the first job's id> finishes
# that job: each shard that stopped resumes where it stopped, each finished one is left as it
# is; then merge rla-runs/<the first job's id>/*.
#
#SBATCH --job-name=rla-shards
#SBATCH --array=0-3
#SBATCH --output=rla-%A_%a.out
##SBATCH --gres=gpu:1          # one GPU a task: enable on a GPU partition
##SBATCH --constraint=rtx4090  # and pin the node type, so every shard runs on one kind of rig
set -euo pipefail
slug="${1:?usage: sbatch slurm-array.sh SLUG [rla bench options]}"
shift

# One output folder per array job, so `rla merge rla-runs/JOBID/*` takes exactly its shards,
# and one run in it per task, named so that a resubmission finds it.
job="${RLA_JOB:-$SLURM_ARRAY_JOB_ID}"
export RLA_OUTPUT_DIR="${RLA_OUTPUT_DIR:-$PWD/rla-runs}/$job"
run="$slug-$job-$SLURM_ARRAY_TASK_ID"
if [ -f "$RLA_OUTPUT_DIR/$run/record.json" ]; then
  echo "$run is complete"
  exit 0
elif [ -f "$RLA_OUTPUT_DIR/$run/config.json" ]; then
  set -- --resume --run-id "$RLA_OUTPUT_DIR/$run" "$@"
else
  set -- --run-id "$run" "$@"
fi

if [ -n "${RLA_GGUF:-}" ]; then
  # A port the kernel has free now: tasks of any job sharing a node each get their own. (Taken
  # in the moment before llama-server binds it, the server dies, this task fails, and its
  # resubmission resumes.)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  llama-server --model "$RLA_GGUF" --host 127.0.0.1 --port "$port" --parallel 1 &
  server=$!
  trap 'kill "$server"' EXIT
  export RLA_ENDPOINT="http://127.0.0.1:$port"
  until curl -fs "$RLA_ENDPOINT/health" >/dev/null; do
    kill -0 "$server"  # stop here if the server died while loading
    sleep 1
  done
fi
: "${RLA_ENDPOINT:?set RLA_GGUF (a model to serve) or RLA_ENDPOINT (a server to ask)}"

# --shard auto: shard (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of
# SLURM_ARRAY_TASK_COUNT, so any --array=A-B[:S] range maps onto shards 0 … COUNT-1.
rla bench "$slug" --shard auto "$@"
