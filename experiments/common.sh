# Sourced by experiments/*/run: the checks they share and the machine line of their reports. The sourcing script
# sets $experiment (its name, for messages) and $bin (the built binaries).
fail() { echo "$experiment: $*" >&2; exit 2; }  # bad input: one line, status 2
need_whole() { [[ $2 =~ ^[1-9][0-9]*$ ]] || fail "$1 $2: expected a whole number >= 1"; }  # FLAG VALUE
need_preset() { [[ -f $1 ]] || fail "--preset $1: no such file"; }
need_built() { local b; for b; do [[ -x $bin/$b ]] || fail "$bin/$b not built (run scripts/setup)"; done; }
threads_each() { local t=$(( $(nproc) / $1 )); echo $(( t >= 1 ? t : 1 )); }  # JOBS at once: nproc / JOBS threads each, at least 1
machine_line() { echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"; }
# Trains each of MODELS (space-separated) with seeds 1..SEEDS under PRESET plus FLAGS into DIR/MODEL/seedS, seed-major
# (every model once before any model twice). A finished run (result.json) is skipped, an interrupted one resumes.
train_seeds() {  # DIR PRESET SEEDS MODELS THREADS [FLAG...]
  local dir=$1 preset=$2 seeds=$3 models=$4 threads=$5 seed model; shift 5
  for seed in $(seq 1 "$seeds"); do
    for model in $models; do
      [[ -f $dir/$model/seed$seed/result.json ]] && continue
      echo "== $(basename "$dir"): $model, seed $seed"
      "$bin/train_model" --config "$preset" --model "$model" --seed "$seed" --threads "$threads" "$@" \
        --output-dir "$dir/$model/seed$seed" --resume > /dev/null
    done
  done
}
# Rebuilds CSV (LEVEL,model,seed,val_top1,test_top1,seconds) from the run folders ROOT/LEVEL-value/MODEL/seedS, writes
# SUMMARY (per LEVEL and model: n, mean, sd, 95% interval of both accuracies) and prints it as a table.
summarize_seed_runs() {  # ROOT LEVEL CSV SUMMARY
  local root=$1 level=$2 csv=$3 summary=$4
  "$bin/summarize_runs" collect --root "$root" --layout "$level/model/seed" \
    --columns "$level,model,seed,val_top1,test_top1,seconds" --output "$csv"
  "$bin/summarize_runs" summary --csv "$csv" --group "$level,model" --value val_top1,test_top1 --output "$summary"
  "$bin/summarize_runs" summary --csv "$csv" --group "$level,model" --value val_top1,test_top1 --format table
}
