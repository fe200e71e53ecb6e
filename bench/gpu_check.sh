#!/usr/bin/env bash
# GPU check (< 8 minutes on one GPU): a full MiniLM S3T run (m = L = B = 3) on the GPU,
# evaluation of the SST-2 dev set, a deletion with the bitwise exactness check and the audit,
# and stage throughput on the GPU beside the same bench on this machine's CPU.
#
#   bash bench/gpu_check.sh                 # defaults: DEVICE=cuda MODEL=minilm LIMIT=3000
#   DEVICE=cpu MODEL=tiny LIMIT=200 bash bench/gpu_check.sh   # dry run of the script on a CPU
#
# Environment: PYTHON (default python), DEVICE, DTYPE (autocast for the throughput rows,
# default bfloat16 on a GPU), MODEL, LIMIT (training rows), OUT (work folder, default a
# new temporary one). Prints a summary; the rows are in $OUT/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
MODEL=${MODEL:-minilm}
LIMIT=${LIMIT:-3000}
if [[ $DEVICE == cpu ]]; then DTYPE=${DTYPE:-float32}; else DTYPE=${DTYPE:-bfloat16}; fi
OUT=${OUT:-$(mktemp -d -t s3t-gpu-check-XXXX)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export CUBLAS_WORKSPACE_CONFIG=${CUBLAS_WORKSPACE_CONFIG:-:4096:8}   # deterministic cuBLAS (exactness)
started=$SECONDS

"$PYTHON" - "$DEVICE" <<'PY'
import sys, torch
device = sys.argv[1]
if device != "cpu" and not torch.cuda.is_available():
    sys.exit(f"gpu_check: torch {torch.__version__} sees no CUDA device; install a CUDA build of torch (README, 'GPU') or set DEVICE=cpu")
name = torch.cuda.get_device_name(torch.device(device)) if device != "cpu" else "cpu"
print(f"gpu_check: torch {torch.__version__}, device {device} ({name})")
PY

echo "== 1. full S3T run: m = L = B = 3, $MODEL, $LIMIT SST-2 rows, 1 epoch, $DEVICE (float32: the exactness check needs it)"
t0=$SECONDS
"$PYTHON" -m analysis train --data ../shared/data/sst2 --model "$MODEL" --shards 3 --slices 3 --budget 3 \
    --epochs 1 --limit "$LIMIT" --device "$DEVICE" --out "$OUT/run"
echo "   train wall $((SECONDS - t0)) s (with start-up)"
echo "== 2. eval of the SST-2 dev set (6,735 rows)"
t0=$SECONDS
"$PYTHON" -m analysis eval --run "$OUT/run" --json > "$OUT/eval.json"
echo "   eval wall $((SECONDS - t0)) s (with start-up)"
"$PYTHON" -c "import json; r = json.load(open('$OUT/eval.json')); print(f\"   accuracy {r['accuracy']:.4f} +- {r['accuracy_se']:.4f} (n={r['examples']})\")"
echo "== 3. deletion, bitwise exactness against training without the example, audit"
"$PYTHON" -m bench.exactness_check "$OUT/run" "$OUT/scratch" | tee "$OUT/exactness.json"
echo "== 4. stage throughput: $DEVICE ($DTYPE) beside the CPU (float32, 1 repeat)"
"$PYTHON" -m bench.bench_training --model "$MODEL" --parts stages --device "$DEVICE" --dtype "$DTYPE" --repeats 2 --results "$OUT/stages_device.json" | tail -n 6
"$PYTHON" -m bench.bench_training --model "$MODEL" --parts stages --device cpu --repeats 1 --threads "$(nproc)" --results "$OUT/stages_cpu.json" | tail -n 6
"$PYTHON" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
device, cpu = (json.load(open(f"{out}/stages_{w}.json"))["rows"] for w in ("device", "cpu"))
print("| stage | device S3T trainer (ex/s) | device plain peft (ex/s) | CPU S3T trainer (ex/s) | CPU plain peft (ex/s) |")
print("| --- | --- | --- | --- | --- |")
for d, c in zip(device, cpu):
    print(f"| {d['stage']} | {d['cached_warm_examples_per_s']:.1f} | {d['plain_examples_per_s']:.1f} | {c['cached_warm_examples_per_s']:.1f} | {c['plain_examples_per_s']:.1f} |")
PY
echo "gpu_check: done in $((SECONDS - started)) s; files in $OUT"
