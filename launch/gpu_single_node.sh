#!/usr/bin/env bash
# gan_jax on one machine with NVIDIA GPUs: one process drives all of its GPUs (no --distributed).
#
# Usage:
#   launch/gpu_single_node.sh install [--venv DIR] [--python python3]
#       Makes the virtualenv DIR (default: .venv in the repo) with --python (3.11 or newer)
#       and pip-installs this repo into it, editable, with jax[cuda12].
#   launch/gpu_single_node.sh run --config CONFIG --workdir DIR [--venv DIR] [--gpus 0,1]
#                                 [-- TRAINING FLAGS]
#       Runs DIR/bin/python -m gan_jax.main --config=CONFIG --workdir=DIR FLAGS, on all the
#       GPUs it sees (--gpus: only these, through CUDA_VISIBLE_DEVICES). Paths are relative
#       to where you run it, as on the README's command lines. Rerunning the same command
#       resumes from the latest checkpoint in the workdir.
# Both: --dry-run prints the commands (one a line, "+ " then shell-quoted) and runs nothing;
# --help prints this text. Options take a value as "--opt VALUE" or "--opt=VALUE".
#
# Example:
#   launch/gpu_single_node.sh install
#   launch/gpu_single_node.sh run --config configs/dcgan.py --workdir workdirs/dcgan \
#       -- --config.total_steps=20000

set -euo pipefail
PROG=gpu_single_node.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

venv=$REPO_DIR/.venv python=python3 config='' workdir='' gpus=''
value_options=(--venv --python --config --workdir --gpus)
parse_args "$@"

case $cmd in
  install)
    ((${#train_flags[@]} == 0)) || die "only 'run' takes training flags after --"
    run "$python" -m venv "$venv"
    run "$venv/bin/pip" install --upgrade pip
    run "$venv/bin/pip" install -e "$REPO_DIR" 'jax[cuda12]'
    ;;
  run)
    [[ -n $config ]] || die "--config is required for run (e.g. --config configs/dcgan.py)"
    [[ -n $workdir ]] || die "--workdir is required for run (e.g. --workdir workdirs/dcgan)"
    [[ -f ${config%%:*} ]] || die "no config file ${config%%:*} (relative to $PWD)"
    [[ -z $gpus || $gpus =~ ^[0-9]+(,[0-9]+)*$ ]] ||
      die "--gpus takes GPU numbers like 0,1,2, not '$gpus'"
    ((dry_run)) || [[ -x $venv/bin/python ]] ||
      die "no $venv/bin/python: run 'launch/gpu_single_node.sh install' first, or pass --venv"
    env_prefix=()
    [[ -z $gpus ]] || env_prefix=(env "CUDA_VISIBLE_DEVICES=$gpus")
    run ${env_prefix[@]+"${env_prefix[@]}"} "$venv/bin/python" -m gan_jax.main \
      "--config=$config" "--workdir=$workdir" ${train_flags[@]+"${train_flags[@]}"}
    ;;
  '') die "give a command: install or run" ;;
  *) die "unknown command '$cmd' (install or run)" ;;
esac
