# Sourced by experiments/*/run: the checks they share and the machine line of their reports. The sourcing script
# sets $experiment (its name, for messages) and $bin (the built binaries).
fail() { echo "$experiment: $*" >&2; exit 2; }  # bad input: one line, status 2
need_whole() { [[ $2 =~ ^[1-9][0-9]*$ ]] || fail "$1 $2: expected a whole number >= 1"; }  # FLAG VALUE
need_preset() { [[ -f $1 ]] || fail "--preset $1: no such file"; }
need_built() { local b; for b; do [[ -x $bin/$b ]] || fail "$bin/$b not built (run scripts/setup)"; done; }
machine_line() { echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"; }
