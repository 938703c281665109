#!/usr/bin/env bash
# A GPU session in one command: the CUDA tests, the gpu profile for one seed end to end, and the input pipeline
# with the training step's share of the GPU's peak. About 7-8 minutes on one H200 (2026-11-30; its results are
# in benchmarks/gpu_h200_2026-11-30/).
#
#     bash benchmarks/gpu_session.sh            # on a machine with a CUDA GPU, from the repository root
#     PACK=/some/dir/gpu_session.tgz bash benchmarks/gpu_session.sh   # also pack the results after each step
#     STEPS="synth book" bash benchmarks/gpu_session.sh               # the gpu-profile book alone (a second slot)
#     (for the book on a machine without papermill/jupytext/ipykernel: bash benchmarks/gpu_wheels.sh first, here,
#     and carry .whl)
#
# Steps, each under its own time limit (seconds, override with the variables):
#   1. the GPU and versions                                                -> gpu.txt
#   2. the CUDA tests (tests/test_device_images.py, tests/test_precision.py)        (TESTS_S 60)
#   3. SynthFashion, size small at 224 px (the gpu profile's data)                   (SYNTH_S 90)
#   3b. cpuplan: the CPU protocol's plan on this host's CPU pinned to 2 cores (taskset -c 0,1, 2 threads):
#      asen reproduce --profile cpu --plan times one training step and estimates the table's training time, the
#      figure behind `make reproduce`'s 30-minute budget on a machine of the host's kind (the build machine's
#      AMD EPYC needs about 42 minutes; README "Results on SynthFashion")                 (CPUPLAN_S 60)
#   4. asen reproduce --profile gpu --seeds 0: stage-0 pre-training where ImageNet weights cannot be had, every
#      run of the main table, the table    -> results/gpu/main_table.json/.md, runs/gpu/*/log.jsonl (REPRODUCE_S 300)
#      Runs share the GPU, JOBS at a time (default 0: asen.reproduce.default_jobs, 4 on an H200; JOBS=1 for the
#      one-at-a-time figure of 2026-11-30)
#   5. python -m benchmarks.gpu_check --skip-run-py --compile: PIL DataLoader (2, 4 workers) vs the image store,
#      loader alone and feeding the paper's training steps (384 images a step, bf16 + channels-last), against
#      the same steps on batches already on the GPU; then stage 1 with torch.compile  -> check/pipeline.json
#                                                                                     (PIPELINE_S 170)
#   6. the same at the gpu profile's own batch (16 triplets = 48 images, bound by kernel launches on a large
#      GPU), compiled with CUDA graphs (--compile-mode reduce-overhead)          -> check48/pipeline.json
#                                                                                     (PIPELINE48_S 120)
#   7. book (not in the default STEPS): every chapter in the gpu profile, as `make book` would run them on a
#      GPU (tools/execute_notebooks.py --profile gpu; runs shared JOBS at a time), into runs/gpu-book and
#      results/gpu-book; its log times the training and each chapter (the 10-minute target)  (BOOK_S 560)
#      Where the Python lacks papermill, jupytext or ipykernel (the lent H200's image does), the wheels that
#      benchmarks/gpu_wheels.sh put in .whl are installed into SITE (default /tmp/asen-site) first: run that script
#      here and carry .whl along.
# STEPS picks the steps (default "tests synth cpuplan reproduce pipeline pipeline48"; gpu.txt is always written).
# The whole stays under TOTAL_S (580 s, for a 10-minute device slot): a step gets what is left of it, and a
# step with less than 20 s left is skipped (rc "skipped" in session.json).
# Everything goes to benchmarks/gpu_session/ (session.json: each step's exit status and seconds). The
# benchmarks of benchmarks/run.py (--device cuda --sections train) are not re-run here: they time the step alone
# and do not depend on the input pipeline (benchmarks/results_gpu.md).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
RES=${RES:-benchmarks/gpu_session}
TESTS_S=${TESTS_S:-60}
SYNTH_S=${SYNTH_S:-90}
CPUPLAN_S=${CPUPLAN_S:-60}
REPRODUCE_S=${REPRODUCE_S:-300}
PIPELINE_S=${PIPELINE_S:-170}
PIPELINE48_S=${PIPELINE48_S:-120}
BOOK_S=${BOOK_S:-560}
JOBS=${JOBS:-0}
STEPS=${STEPS:-tests synth cpuplan reproduce pipeline pipeline48}
TOTAL_S=${TOTAL_S:-580}
DATA=${DATA:-data/SynthFashion}
SITE=${SITE:-/tmp/asen-site}
export PYTHONUNBUFFERED=1
mkdir -p "$RES" results/gpu
steps=()

write_session() {  # each step's exit status and seconds so far
  (IFS=,; echo "{${steps[*]}}") > "$RES/session.json"
}

pack() {  # the results so far, into $PACK (checkpoints stay out)
  [ -n "${PACK:-}" ] || return 0
  write_session
  local logs
  logs=$(find runs/gpu -maxdepth 2 \( -name 'log.jsonl' -o -name 'config.yaml' -o -name '*.json' \) 2>/dev/null)
  logs="$logs $(find runs/gpu-book -maxdepth 2 -name 'log.jsonl' 2>/dev/null)"
  tar czf "$PACK" "$RES" results/gpu results/gpu-book $logs 2>/dev/null || true
}

run_step() {  # name, limit in seconds, command...
  local name=$1 limit=$2; shift 2
  case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
  local left=$((TOTAL_S - SECONDS))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 20 ]; then
    echo "== $name: skipped (${left} s of TOTAL_S left)" | tee -a "$RES/session.log"
    steps+=("\"$name\": {\"rc\": \"skipped\", \"seconds\": 0}"); return 0
  fi
  echo "== $name (limit ${limit} s): $*" | tee -a "$RES/session.log"
  if [ -n "${DRY_RUN:-}" ]; then steps+=("\"$name\": {\"rc\": null, \"seconds\": 0}"); return 0; fi
  local t0=$SECONDS
  timeout "$limit" "$@" > "$RES/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$RES/$name.log"
  steps+=("\"$name\": {\"rc\": $rc, \"seconds\": $((SECONDS - t0))}")
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$RES/session.log"
  pack
}

if [ -z "${DRY_RUN:-}" ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'error: no CUDA GPU visible to torch')" \
    || exit 1
  (nvidia-smi || true; lscpu | grep -m1 'Model name' || true; nproc
   "$PY" -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.cuda.get_device_name(0))") \
    > "$RES/gpu.txt" 2>&1
  cat "$RES/gpu.txt" | tail -n 4
fi
run_step tests "$TESTS_S" "$PY" -m pytest -q -p no:cacheprovider tests/test_device_images.py tests/test_precision.py
run_step synth "$SYNTH_S" "$PY" -m asen synth --size small --out "$DATA" --quiet
run_step cpuplan "$CPUPLAN_S" env OMP_NUM_THREADS=2 taskset -c 0,1 "$PY" -m asen reproduce --profile cpu --plan \
  --data "$DATA" --device cpu
run_step reproduce "$REPRODUCE_S" "$PY" -m asen reproduce --profile gpu --seeds 0 --device cuda --data "$DATA" \
  --runs runs/gpu --out results/gpu --jobs "$JOBS" --quiet
run_step pipeline "$PIPELINE_S" "$PY" -m benchmarks.gpu_check --skip-run-py --compile --data "$DATA" \
  --results "$RES/check"
run_step pipeline48 "$PIPELINE48_S" "$PY" -m benchmarks.gpu_check --skip-run-py --compile \
  --compile-mode reduce-overhead --batch-triplets 16 --data "$DATA" --results "$RES/check48"
case " $STEPS " in *" book "*)  # the chapters need papermill, jupytext and ipykernel, which a GPU image may lack
  if ! "$PY" -c "import papermill, jupytext, ipykernel" 2> /dev/null; then
    echo "== jupyter: installing the carried wheels (.whl, benchmarks/gpu_wheels.sh) into $SITE" \
      | tee -a "$RES/session.log"
    if [ -z "${DRY_RUN:-}" ]; then
      if ls .whl/*.whl > /dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
          .whl/*.whl 2>&1 | tail -n 3
      else  # the book step then fails on its own, with papermill's ImportError in its log
        echo "error: $PY cannot import papermill, jupytext and ipykernel and there is no .whl folder: run" \
          "bash benchmarks/gpu_wheels.sh here and carry .whl" | tee -a "$RES/session.log"
      fi
    fi
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  fi ;;
esac
run_step book "$BOOK_S" "$PY" tools/execute_notebooks.py --profile gpu --device cuda --data-root "$DATA" \
  --runs-root runs/gpu-book --results-dir results/gpu-book --jobs "$JOBS" --force --keep-going
write_session
pack
cat "$RES/session.json"
