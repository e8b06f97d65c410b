#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start-up figures (README, "Start-up"): runs each command RUNS times, interleaved (one run of each
# in turn, so a change of the machine's load touches all alike), and prints per command the median
# and minimum wall time and the median CPU time (user + system), with the load average before and
# after. Output goes to /dev/null; a run that fails is named and counted.
#   tools/startup-bench.sh [-n RUNS] [-w WARMUPS] LABEL='COMMAND' ...
#   tools/startup-bench.sh -n 10 repo='./cnnc check models.cnn' dist='/tmp/cnnc-0.1.0/bin/cnnc check models.cnn'
# With no command: the repository's launcher on check models.cnn and on --version.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10
warmups=1
while getopts n:w: opt; do
  case $opt in
    n) runs=$OPTARG ;;
    w) warmups=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# = 0 ]; then
  set -- "check=./cnnc check models.cnn" "version=./cnnc --version"
fi
labels=()
commands=()
for pair in "$@"; do
  labels+=("${pair%%=*}")
  commands+=("${pair#*=}")
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "cores: $(nproc), load average before: $(load)"
for ((i = 0; i < ${#commands[@]}; i++)); do
  for ((w = 0; w < warmups; w++)); do bash -c "${commands[$i]}" >/dev/null 2>&1 || true; done
done
for ((r = 0; r < runs; r++)); do
  for ((i = 0; i < ${#commands[@]}; i++)); do
    start=$(date +%s%N)
    status=0
    /usr/bin/time -f '%U %S' -o "$work/cpu" bash -c "${commands[$i]}" >/dev/null 2>"$work/err" || status=$?
    end=$(date +%s%N)
    if [ $status != 0 ]; then
      echo "run $r of ${labels[$i]} failed (exit $status): $(tail -1 "$work/err")" >&2
      echo failed >>"$work/failed.$i"
    fi
    echo $(((end - start) / 1000000)) >>"$work/wall.$i"
    awk '{ printf "%d\n", ($1 + $2) * 1000 }' "$work/cpu" | tail -1 >>"$work/cpu.$i"
  done
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
printf '%-12s %5s %11s %8s %11s %7s  %s\n' label runs "median ms" "min ms" "cpu ms(med)" failed command
for ((i = 0; i < ${#commands[@]}; i++)); do
  failed=$( [ -f "$work/failed.$i" ] && wc -l <"$work/failed.$i" || echo 0)
  printf '%-12s %5d %11d %8d %11d %7d  %s\n' "${labels[$i]}" "$runs" "$(median "$work/wall.$i")" \
    "$(sort -n "$work/wall.$i" | head -1)" "$(median "$work/cpu.$i")" "$failed" "${commands[$i]}"
done
echo "load average after: $(load)"
