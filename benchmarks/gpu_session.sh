#!/usr/bin/env bash
# The GPU checks of issue #12 as ONE prepared run (about 8 minutes on an H100/H200), for a machine that has torch,
# numpy, pyyaml, tqdm, einops and pytest but cannot download anything:
#   1. benchmarks/bench_step.py on the published Sudoku attention, Sudoku MLP and Maze configs, batch 768, bf16:
#      bare ACT step eager / compiled (net in place, and the whole forward), Trainer.train_step eager / compiled, and
#      the authors' model eager / compiled on the same weights; a profiler table of the compiled Trainer step;
#   2. the `gpu`-marked tests (tests/test_gpu.py), including the step under torch.cuda.set_sync_debug_mode('error').
# Everything it prints is also written under $OUT (or ./gpu-out), one file per part.
#
# Prepare once, in the repository root (both folders are git-ignored through .git/info/exclude, never committed):
#   - the authors' model code, fetched by you (only models/ is needed):
#       git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels .reference/TinyRecursiveModels
#   - their one dependency that such a machine may lack, pydantic, as wheels for its Python (3.12 here):
#       python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d .whl pydantic pydantic_core annotated_types typing_inspection
# Then run, on the GPU machine, from the repository root:
#   bash benchmarks/gpu_session.sh
set -uo pipefail
OUT="${OUT:-gpu-out}"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$(pwd):${PYTHONPATH:-}"
REF=()
[ -d .reference/TinyRecursiveModels/models ] && REF=(--reference-dir .reference/TinyRecursiveModels)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/machine.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/machine.txt"

python3 benchmarks/bench_step.py --config sudoku_attn --device cuda --dtype bfloat16 --batch 768 --warmup 3 --steps 10 \
  "${REF[@]}" --profile trainer_compiled --out "$OUT/step_sudoku_attn.txt" 2>&1 | tail -n 80
python3 benchmarks/bench_step.py --config sudoku_mlp_t --device cuda --dtype bfloat16 --batch 768 --warmup 3 --steps 8 \
  "${REF[@]}" --out "$OUT/step_sudoku_mlp_t.txt" 2>&1 | tail -n 20
python3 benchmarks/bench_step.py --config maze --device cuda --dtype bfloat16 --batch 768 --warmup 2 --steps 4 \
  --modes bare_compiled_net,trainer_compiled "${REF[@]}" --out "$OUT/step_maze.txt" 2>&1 | tail -n 20
timeout 240 python3 -m pytest -o addopts="" -p no:cacheprovider -m gpu -q tests/test_gpu.py 2>&1 | tee "$OUT/pytest_gpu.txt" | tail -n 30
