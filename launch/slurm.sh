#!/usr/bin/env bash
# gan_jax on several GPU nodes under Slurm: writes the batch script and submits it with sbatch.
#
# Usage: launch/slurm.sh --nodes N --gpus-per-node G --config CONFIG --workdir DIR
#          [--time 24:00:00] [--partition P] [--job-name gan_jax] [--output %x-%j.out]
#          [--task-per-gpu] [--sbatch-arg ARG]... [--venv DIR] [--dry-run] [-- TRAINING FLAGS]
#   The job runs, on every node, srun DIR/bin/python -m gan_jax.main --config=CONFIG
#   --workdir=DIR --distributed FLAGS; jax.distributed.initialize() finds the coordinator,
#   process count and id from Slurm. One process per node drives all G GPUs (through
#   JAX_LOCAL_DEVICE_IDS); --task-per-gpu starts G processes per node, one a GPU, instead.
#   --venv (default: .venv in the repo, made by launch/gpu_single_node.sh install), the repo
#   and the workdir must be on a filesystem all nodes share. The job starts in the directory
#   you submit from, so relative paths mean what they mean here. --output is Slurm's log
#   file (%x: job name, %j: job id). --sbatch-arg adds an #SBATCH line, e.g.
#   --sbatch-arg=--account=ACCOUNT or --sbatch-arg=--requeue. Time and partition default to
#   the cluster's. Rerunning the same command resumes from the latest checkpoint.
#   --dry-run prints the command (+ sbatch, then the script as a here-document) and submits
#   nothing; --help prints this text. Options take "--opt VALUE" or "--opt=VALUE".
#
# Example:
#   launch/slurm.sh --nodes 2 --gpus-per-node 8 --time 12:00:00 --partition gpu \
#       --config configs/sngan.py --workdir /shared/runs/sngan -- --config.total_steps=100000

set -euo pipefail
PROG=slurm.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

other_argument() {  # --sbatch-arg, whose value starts with - (so no need()); there is no command
  [[ $1 == --sbatch-arg ]] || die "unknown option or argument '$1'"
  [[ $# -ge 2 && $2 == -* ]] ||
    die "--sbatch-arg needs an sbatch option, e.g. --sbatch-arg=--requeue"
  sbatch_args+=("$2")
  took=2
}

nodes='' gpus='' time_limit='' partition='' job_name=gan_jax output=%x-%j.out task_per_gpu=0
venv=$REPO_DIR/.venv config='' workdir='' sbatch_args=()
flag_options=(--task-per-gpu)
value_options=(--nodes --gpus-per-node:gpus --time:time_limit --partition --job-name --output
  --venv --config --workdir)
parse_args "$@"

[[ -n $nodes ]] || die "--nodes is required"
[[ -n $gpus ]] || die "--gpus-per-node is required"
[[ $nodes =~ ^[1-9][0-9]*$ ]] || die "--nodes must be a positive number, not '$nodes'"
[[ $gpus =~ ^[1-9][0-9]*$ ]] || die "--gpus-per-node must be a positive number, not '$gpus'"
[[ -n $config ]] || die "--config is required (e.g. --config configs/dcgan.py)"
[[ -n $workdir ]] || die "--workdir is required (on storage all nodes share)"
for value in "$time_limit" "$partition" "$job_name" "$output" \
  ${sbatch_args[@]+"${sbatch_args[@]}"}; do
  [[ $value != *[[:space:]]* ]] || die "#SBATCH values can't hold spaces: '$value'"
done
[[ -f ${config%%:*} ]] || die "no config file ${config%%:*} (relative to $PWD)"
[[ $venv == /* ]] || venv=$PWD/$venv
if ((dry_run == 0)); then
  command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"
  [[ -x $venv/bin/python ]] ||
    die "no $venv/bin/python: run 'launch/gpu_single_node.sh install' first, or pass --venv"
fi

if ((task_per_gpu)); then tasks=$gpus; else tasks=1; fi
script="#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --nodes=$nodes
#SBATCH --ntasks-per-node=$tasks
#SBATCH --gpus-per-node=$gpus
#SBATCH --output=$output"
[[ -z $time_limit ]] || script+=$'\n'"#SBATCH --time=$time_limit"
[[ -z $partition ]] || script+=$'\n'"#SBATCH --partition=$partition"
for arg in ${sbatch_args[@]+"${sbatch_args[@]}"}; do script+=$'\n'"#SBATCH $arg"; done
script+=$'\n'"# By launch/slurm.sh: $nodes node(s), $tasks process(es) and $gpus GPU(s) per node.
set -euo pipefail
export PYTHONUNBUFFERED=1"
if ((task_per_gpu == 0)); then  # JAX's Slurm detection would give each process one GPU
  ids=0
  for ((i = 1; i < gpus; i++)); do ids+=",$i"; done
  script+=$'\n'"export JAX_LOCAL_DEVICE_IDS=$ids"
fi
script+=$'\n'"srun --kill-on-bad-exit=1 --label $(quote_all "$venv/bin/python" -m gan_jax.main \
  "--config=$config" "--workdir=$workdir" --distributed ${train_flags[@]+"${train_flags[@]}"})"

if ((dry_run)); then
  printf '+ sbatch <<%s\n%s\n%s\n' "'EOF'" "$script" EOF
else
  printf '+ sbatch <<%s\n%s\n%s\n' "'EOF'" "$script" EOF >&2
  sbatch <<<"$script"
fi
