#!/bin/bash
# One benchmark as a Slurm job array: each task runs one shard, `rla merge` joins them
# (docs/scale-out.md). Every task should run on the same kind of node: a row is one rig.
#
#   jobid=$(RLA_GGUF=/models/model-Q4_K_M.gguf sbatch --parsable slurm-array.sh mmlu)
#   sbatch --dependency=afterok:"$jobid" \
#       --wrap "rla merge rla-runs/$jobid/* -o rla-runs/$jobid-merged"
#
# Each task serves RLA_GGUF with its own llama-server on the node it lands on (llama-server on
# PATH), or, without RLA_GGUF, asks the server RLA_ENDPOINT names. Arguments after the slug go
# to `rla bench` (--config leaderboard, --data-dir …). A shard that failed is run again on its
# own, resuming where it stopped (docs/scale-out.md, "When a shard fails").
#
#SBATCH --job-name=rla-shards
#SBATCH --array=0-3
#SBATCH --output=rla-%A_%a.out
##SBATCH --gres=gpu:1          # one GPU a task: enable on a GPU partition
##SBATCH --constraint=rtx4090  # and pin the node type, so every shard runs on one kind of rig
set -euo pipefail
slug="${1:?usage: sbatch slurm-array.sh SLUG [rla bench options]}"
shift

if [ -n "${RLA_GGUF:-}" ]; then
  port=$((18080 + SLURM_ARRAY_TASK_ID % 1000))  # tasks sharing a node need ports of their own
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

# One output folder per array job: `rla merge rla-runs/JOBID/*` then takes exactly its shards.
export RLA_OUTPUT_DIR="${RLA_OUTPUT_DIR:-$PWD/rla-runs}/$SLURM_ARRAY_JOB_ID"
# --shard auto: shard (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of
# SLURM_ARRAY_TASK_COUNT, so any --array=A-B[:S] range maps onto shards 0 … COUNT-1.
rla bench "$slug" --shard auto "$@"
