#!/usr/bin/env bash
# Cloud TPU VM lifecycle for gan_jax with gcloud: create, install, run, logs, delete.
#
# Usage: launch/tpu_vm.sh COMMAND --name NAME --zone ZONE [--project PROJECT] [OPTIONS]
#   create   [--accelerator-type v5litepod-8] [--version RUNTIME] [--spot] [--queued]
#            Creates the TPU VM (with --queued: a queued resource of the same name, which
#            becomes the VM when capacity is free). The runtime version defaults to the one
#            Cloud TPU recommends for the accelerator (v6e, v5p, v5litepod, else v4 and older).
#   install  [--repo PATH|GIT_URL] [--python python3.11]
#            Puts the code in ~/gan_jax on every worker (a copy of the local checkout PATH,
#            default this one, or a clone of GIT_URL), makes ~/gan_jax_venv with --python
#            (apt-installed if missing) and pip-installs gan_jax with jax[tpu] into it.
#   run      --config CONFIG --workdir DIR [--detach] [-- TRAINING FLAGS]
#            Runs python -m gan_jax.main --config=CONFIG --workdir=DIR --distributed FLAGS
#            on all workers at once; output streams here and is appended to
#            ~/gan_jax_logs/train.log on each worker (closing the connection stops it).
#            --detach starts it under nohup instead, writing only to the log, and returns.
#            CONFIG is relative to the repo.
#            Every worker writes to the workdir, so on a multi-host slice it must be storage
#            they all mount at the same path (a bucket mounted with gcsfuse on every worker,
#            or a Filestore share); gan_jax writes through the filesystem and refuses gs:// URLs.
#            Rerunning the same command resumes from the latest checkpoint.
#   logs     [--worker 0|N|all] [--lines 100] [--follow]
#            Shows the end of train.log on a worker (default 0, the one that logs metrics).
#   delete   [--queued]
#            Deletes the TPU VM (with --queued: the queued resource and its VM).
# Every command: --dry-run prints the commands (one a line, "+ " then shell-quoted) and runs
# nothing; --help prints this text. Options take a value as "--opt VALUE" or "--opt=VALUE".
#
# Example:
#   launch/tpu_vm.sh create --name gan --zone us-west4-a --accelerator-type v5litepod-8
#   launch/tpu_vm.sh install --name gan --zone us-west4-a
#   launch/tpu_vm.sh run --name gan --zone us-west4-a --config configs/dcgan.py \
#       --workdir /mnt/my-bucket/dcgan -- --config.total_steps=20000
#   launch/tpu_vm.sh delete --name gan --zone us-west4-a

set -euo pipefail
PROG=tpu_vm.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

readonly LIBTPU_LINKS=https://storage.googleapis.com/jax-releases/libtpu_releases.html

default_version() {  # the runtime Cloud TPU recommends for JAX on accelerator type $1
  case $1 in
    v6e-*) echo v2-alpha-tpuv6e ;;
    v5p-*) echo v2-alpha-tpuv5 ;;
    v5litepod-* | v5e-*) echo v2-alpha-tpuv5-lite ;;
    *) echo tpu-ubuntu2204-base ;;
  esac
}

name='' zone='' project='' accelerator=v5litepod-8 version='' spot=0 queued=0 detach=0
repo=$REPO_DIR python=python3.11 config='' workdir='' worker=0 lines=100 follow=0
flag_options=(--spot --queued --follow --detach)
value_options=(--name --zone --project --accelerator-type:accelerator --version --repo --python
  --config --workdir --worker --lines)
parse_args "$@"

case $cmd in
  create | install | run | logs | delete) ;;
  '') die "give a command: create, install, run, logs or delete" ;;
  *) die "unknown command '$cmd' (create, install, run, logs or delete)" ;;
esac
[[ -n $name ]] || die "--name is required"
[[ -n $zone ]] || die "--zone is required"
if ((${#train_flags[@]})) && [[ $cmd != run ]]; then
  die "only 'run' takes training flags after --"
fi
((dry_run)) || command -v gcloud >/dev/null || die "gcloud not found: install the Google Cloud CLI"

where=("--zone=$zone")
[[ -z $project ]] || where+=("--project=$project")
ssh_all() { run gcloud compute tpus tpu-vm ssh "$name" "${where[@]}" --worker=all --command="$1"; }

case $cmd in
  create)
    version=${version:-$(default_version "$accelerator")}
    spot_flag=()
    ((spot == 0)) || spot_flag=(--spot)
    if ((queued)); then
      run gcloud compute tpus queued-resources create "$name" --node-id="$name" "${where[@]}" \
        --accelerator-type="$accelerator" --runtime-version="$version" \
        ${spot_flag[@]+"${spot_flag[@]}"}
      ((dry_run)) || echo "Queued: wait for state ACTIVE (gcloud compute tpus queued-resources" \
        "describe $name --zone=$zone), then run 'install'." >&2
    else
      run gcloud compute tpus tpu-vm create "$name" "${where[@]}" \
        --accelerator-type="$accelerator" --version="$version" ${spot_flag[@]+"${spot_flag[@]}"}
    fi
    ;;
  install)
    if [[ -d $repo ]]; then  # a local checkout: copy it (without .git, venvs, workdirs, caches)
      tarball="${TMPDIR:-/tmp}/gan_jax-src-$name.tgz"
      run tar -czf "$tarball" --exclude=.git --exclude=.venv --exclude=workdirs \
        --exclude=__pycache__ --exclude='*.egg-info' --exclude='.*_cache' --exclude=build \
        --exclude=notebooks/outputs -C "$repo" .
      run gcloud compute tpus tpu-vm scp "$tarball" "$name:gan_jax-src.tgz" "${where[@]}" \
        --worker=all
      run rm -f "$tarball"
      fetch="rm -rf ~/gan_jax && mkdir ~/gan_jax && tar -xzf ~/gan_jax-src.tgz -C ~/gan_jax"
      fetch+=" && rm ~/gan_jax-src.tgz"
    elif [[ $repo == *://* || $repo == *@*:* ]]; then  # a git URL: clone it, or pull if cloned
      fetch="if [ -d ~/gan_jax/.git ]; then git -C ~/gan_jax pull --ff-only;"
      fetch+=" else git clone $(quote "$repo") ~/gan_jax; fi"
    else
      die "--repo $repo is neither a directory nor a git URL"
    fi
    py=$(quote "$python")
    get_python=''
    if [[ $python == python3.* ]]; then  # Ubuntu's images have python3.10; apt has newer ones
      get_python="if ! $py -c 'import ensurepip' 2>/dev/null; then sudo apt-get update -q"
      get_python+=" && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q"
      get_python+=" $py $(quote "$python-venv"); fi && "
    fi
    setup="$py -m venv ~/gan_jax_venv && ~/gan_jax_venv/bin/pip install -q --upgrade pip"
    setup+=" && ~/gan_jax_venv/bin/pip install -e ~/gan_jax 'jax[tpu]' -f $LIBTPU_LINKS"
    ssh_all "$fetch && $get_python$setup"
    ;;
  run)
    [[ -n $config ]] || die "--config is required for run (e.g. --config configs/dcgan.py)"
    [[ -n $workdir ]] || die "--workdir is required for run (e.g. --workdir /mnt/BUCKET/dcgan)"
    [[ $workdir != *://* ]] || die "--workdir $workdir is a URL; gan_jax writes through the" \
      "filesystem: mount the bucket on every worker (gcsfuse) and give the mounted path"
    [[ $workdir == /* ]] || echo "tpu_vm.sh: warning: --workdir $workdir is relative to" \
      "the checkout on each worker; on a multi-host slice every worker must write to the same" \
      "shared directory." >&2
    train=(-m gan_jax.main "--config=$config" "--workdir=$workdir" --distributed
      ${train_flags[@]+"${train_flags[@]}"})
    start="mkdir -p ~/gan_jax_logs && cd ~/gan_jax && export PYTHONUNBUFFERED=1 &&"
    python_args=$(quote_all "${train[@]}")
    if ((detach)); then  # in { ... & } only python holds the ssh session's output, not a shell
      ssh_all "$start { nohup ~/gan_jax_venv/bin/python $python_args \
>> ~/gan_jax_logs/train.log 2>&1 < /dev/null & }"
      ((dry_run)) || echo "Started in the background; follow it with: launch/tpu_vm.sh logs" \
        "--name $name --zone $zone --follow" >&2
    else
      ssh_all "set -o pipefail; $start ~/gan_jax_venv/bin/python $python_args 2>&1 \
| tee -a ~/gan_jax_logs/train.log"
    fi
    ;;
  logs)
    [[ $worker == all || $worker =~ ^[0-9]+$ ]] ||
      die "--worker must be a number or 'all', not '$worker'"
    [[ $lines =~ ^[0-9]+$ ]] || die "--lines must be a number, not '$lines'"
    tail_flags="-n $lines"
    ((follow == 0)) || tail_flags+=" -F"
    run gcloud compute tpus tpu-vm ssh "$name" "${where[@]}" --worker="$worker" \
      --command="tail $tail_flags ~/gan_jax_logs/train.log"
    ;;
  delete)
    if ((queued)); then
      run gcloud compute tpus queued-resources delete "$name" "${where[@]}" --force
    else
      run gcloud compute tpus tpu-vm delete "$name" "${where[@]}"
    fi
    ;;
esac
