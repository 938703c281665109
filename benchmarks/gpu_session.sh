#!/usr/bin/env bash
# The next GPU session in one command (issue 17): benchmarks, then the gpu profile for one seed end to end.
#
#     bash benchmarks/gpu_session.sh            # on a machine with a CUDA GPU, from the repository root
#
# Steps, each under its own time limit so that the whole fits a 10-minute device slot (limits in seconds,
# override with the variables below; the estimates come from `asen reproduce --profile gpu --plan`):
#   1. the GPU and the plan with its estimates for this GPU and a T4      -> benchmarks/gpu_session/plan.txt
#   2. python -m benchmarks.run --device cuda --sections train,e2e (GPU plan)    -> benchmarks/results_gpu.json/.md
#      (2.2 minutes on an H200 when last run)                              (PLAN_S 60, BENCH_S 200)
#   3. asen reproduce --profile gpu --seeds 0: SynthFashion generation (224 px, 12k images), the image store,
#      the main table's runs (ImageNet weights when they can be downloaded, else the stage-0 run), the
#      table                                                               -> results/gpu/main_table.json/.md
#                                                                          (REPRODUCE_S 330)
# Logs and timings go to benchmarks/gpu_session/ (session.json: each step's exit status and seconds).
# Nothing here has run on a GPU yet: it was prepared without one and checked with DRY_RUN=1 only.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${OUT:-benchmarks/gpu_session}
PLAN_S=${PLAN_S:-60}
BENCH_S=${BENCH_S:-200}
REPRODUCE_S=${REPRODUCE_S:-330}
DATA=${DATA:-data/SynthFashion}
mkdir -p "$OUT" results/gpu
steps=()

run_step() {  # name, limit in seconds, command...
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit} s): $*" | tee -a "$OUT/session.log"
  if [ -n "${DRY_RUN:-}" ]; then steps+=("\"$name\": {\"rc\": null, \"seconds\": 0}"); return 0; fi
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 30 "$OUT/$name.log"
  steps+=("\"$name\": {\"rc\": $rc, \"seconds\": $((SECONDS - t0))}")
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/session.log"
}

if [ -z "${DRY_RUN:-}" ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'error: no CUDA GPU visible to torch')" \
    || exit 1
  (nvidia-smi || true; "$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))") \
    > "$OUT/gpu.txt" 2>&1
fi
run_step plan "$PLAN_S" "$PY" -m asen reproduce --profile gpu --seeds 0 --plan --device cuda --data "$DATA"
[ -z "${DRY_RUN:-}" ] && cp "$OUT/plan.log" "$OUT/plan.txt"
run_step benchmarks "$BENCH_S" "$PY" -m benchmarks.run --device cuda --sections train,e2e \
  --out benchmarks/results_gpu.json
run_step reproduce "$REPRODUCE_S" "$PY" -m asen reproduce --profile gpu --seeds 0 --device cuda --data "$DATA" \
  --runs runs/gpu --out results/gpu --quiet
(IFS=,; echo "{${steps[*]}}") > "$OUT/session.json"
cat "$OUT/session.json"
