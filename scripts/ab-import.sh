#!/usr/bin/env bash
# Time `sieve dataset import` of one dataset with two builds of sieve, alternating, each import
# into a fresh home; prints the median wall time of each. For comparing an import change side by
# side on a noisy machine:
#   scripts/ab-import.sh OLD_SIEVE NEW_SIEVE DATA_DIR TASK [RUNS]
set -euo pipefail
old=$1 new=$2 dir=$3 task=$4 runs=${5:-5}
declare -a times_old times_new
for _ in $(seq 1 "$runs"); do
  for which in old new; do
    bin=${!which}
    home=$(mktemp -d)
    token=$(SIEVE_HOME=$home "$bin" init --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["admin_token"])')
    start=$(date +%s.%N)
    SIEVE_HOME=$home SIEVE_TOKEN=$token "$bin" dataset import ab "$dir" --task "$task" --source ab >/dev/null
    end=$(date +%s.%N)
    rm -rf "$home"
    elapsed=$(python3 -c "print(f'{$end - $start:.3f}')")
    if [ "$which" = old ]; then times_old+=("$elapsed"); else times_new+=("$elapsed"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "$task: old $(median "${times_old[@]}") s, new $(median "${times_new[@]}") s (medians of $runs)"
