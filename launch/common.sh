# Helpers shared by the scripts in launch/, which source this file (it does not run on its own).
# Before sourcing it a script sets PROG, its file name, for messages; after, it lists its own
# options and calls parse_args "$@". --help prints the comment block at the top of the script.
# shellcheck shell=bash
# shellcheck disable=SC2034  # REPO_DIR and train_flags are set here for the scripts to read

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() {
  echo "$PROG: error: $*" >&2
  echo "Run 'launch/$PROG --help' for usage." >&2
  exit 2
}
need() { [[ $# -ge 2 && -n $2 && $2 != -* ]] || die "$1 needs a value"; }

quote() {  # $1 quoted for a POSIX shell (left as it is when it needs no quotes)
  local sq="'\\''"
  case $1 in
    '' | *[!A-Za-z0-9_@%+=:,./-]*) printf "'%s'" "${1//\'/$sq}" ;;
    *) printf '%s' "$1" ;;
  esac
}
quote_all() {  # the arguments quoted and joined by spaces
  local out='' a
  for a in "$@"; do out+="${out:+ }$(quote "$a")"; done
  printf '%s' "$out"
}
run() {  # prints "+ COMMAND" (to stderr when running it) and runs it unless --dry-run
  if ((dry_run)); then
    echo "+ $(quote_all "$@")"
  else
    echo "+ $(quote_all "$@")" >&2
    "$@"
  fi
}

# The command line. Every script takes --help, --dry-run (dry_run=1) and training flags after --
# (train_flags). Its own options it lists in flag_options (each sets its variable to 1) and
# value_options (each takes a value, as "--opt VALUE" or "--opt=VALUE"), every one as --opt
# (the variable opt, with _ for -) or as --opt:VARIABLE. Any other word goes to other_argument,
# which takes it as the script's command (cmd); a script with no command, or with more to read,
# defines its own other_argument after sourcing this file, setting took to the words it used.
dry_run=0 train_flags=() cmd='' flag_options=() value_options=()

other_argument() {
  case $1 in
    -*) die "unknown option $1" ;;
    *) [[ -z $cmd ]] || die "unexpected argument '$1'"; cmd=$1 ;;
  esac
}

option_variable() {  # sets var to the variable of option $1, if one of the specs after it names $1
  local spec
  for spec in "${@:2}"; do
    [[ ${spec%%:*} == "$1" ]] || continue
    if [[ $spec == *:* ]]; then var=${spec#*:}; else var=${1#--}; var=${var//-/_}; fi
    return 0
  done
  return 1
}

parse_args() {
  local var took
  while (($#)); do
    case $1 in --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;; esac
    case $1 in
      -h | --help) usage; exit 0 ;;
      --dry-run) dry_run=1; shift; continue ;;
      --) shift; train_flags=("$@"); break ;;
      --config.*) die "training flags such as $1 go after --" ;;
    esac
    if option_variable "$1" ${flag_options[@]+"${flag_options[@]}"}; then
      printf -v "$var" 1
      shift
    elif option_variable "$1" ${value_options[@]+"${value_options[@]}"}; then
      need "$@"
      printf -v "$var" '%s' "$2"
      shift 2
    else
      took=1
      other_argument "$@"
      shift "$took"
    fi
  done
}
