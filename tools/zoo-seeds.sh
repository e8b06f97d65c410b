#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A zoo model's parity error over many seeds, per engine: for each seed, tools/pytorch/zoo_parity.py
# writes seeded weights, a seeded input and the float64 output (and prints PyTorch's own float32
# error); then `cnnc run` (inference passes on) computes the output on MKL's product, on cnnc's
# vector product and on ONNX Runtime, each compared with float64 as ZooParityTest does
# (max |a - b| / max |b|). Prints one row per seed and each engine's median, geometric mean, largest
# error and the seeds past 5e-5 and 1e-4. One seed is one draw of rounding: on an ill-conditioned
# model (regnet_y_400mf) the draws, not one of them, say whether an engine rounds worse.
#   tools/zoo-seeds.sh MODEL FIRST_SEED LAST_SEED [DIR]
#   tools/zoo-seeds.sh regnet_y_400mf 1 24
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?model}
first=${2:?first seed}
last=${3:?last seed}
dir=${4:-$(mktemp -d)}
[ -f "zoo/$model.cnn" ] || { echo "zoo-seeds: no zoo/$model.cnn" >&2; exit 2; }
root=$PWD
for seed in $(seq "$first" "$last"); do
  d="$dir/s$seed"
  mkdir -p "$d"
  (cd / && /usr/bin/python3 "$root/tools/pytorch/zoo_parity.py" --out "$d" --models "$model" --seed "$seed") > "$d/torch.log"
  for engine in mkl vector ort; do
    if [ $engine = ort ]; then
      args=(--engine=ort)
      opts=
    else
      args=()
      opts=-Dcnnc.blas=$engine
    fi
    CNNC_OPTS=$opts ./cnnc run "zoo/$model.cnn" "${args[@]}" --repeat 0 --weights "$d/$model.npz" \
      --input "$d/${model}_input.npy" --output "$d/out-$engine" > "$d/$engine.log" 2>&1 \
      || { echo "zoo-seeds: cnnc run failed, see $d/$engine.log" >&2; exit 1; }
  done
done
cd / && /usr/bin/python3 - "$dir" "$model" "$first" "$last" <<'EOF'
import glob, math, re, sys
import numpy as np
root, model, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
engines = ("mkl", "vector", "ort")
errors = {e: [] for e in ("torch32",) + engines}
print("seed  " + "  ".join("%-8s" % e for e in errors))
for seed in range(first, last + 1):
    d = "%s/s%d" % (root, seed)
    y = np.load("%s/%s_output.npy" % (d, model)).astype(np.float64)
    errors["torch32"].append(float(re.search(r"float64: ([0-9.e+-]+)", open(d + "/torch.log").read()).group(1)))
    for e in engines:
        out = sorted(glob.glob("%s/out-%s/*.npy" % (d, e)))[0]  # the model's first output
        a = np.load(out).astype(np.float64).reshape(y.shape)
        errors[e].append(np.abs(a - y).max() / np.abs(y).max())
    print("%-5d " % seed + "  ".join("%.2e" % errors[e][-1] for e in errors))
for e, v in errors.items():
    v = np.array(v)
    print("%-8s median %.2e  geomean %.2e  max %.2e  seeds > 5e-5: %d  > 1e-4: %d"
          % (e, np.median(v), math.exp(np.log(v).mean()), v.max(), (v > 5e-5).sum(), (v > 1e-4).sum()))
EOF
