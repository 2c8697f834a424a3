#!/usr/bin/env python
"""What torch.compile costs and gives on the CPU for one recipe (issue 18's `compile` lever, per step).

    OMP_NUM_THREADS=1 python benchmarks/bench_compile_cpu.py                      # sudoku6_cpu, rounds of 40 steps
    OMP_NUM_THREADS=1 python benchmarks/bench_compile_cpu.py --recipe sudoku4_cpu --steps 20

Alternates compile=True / compile=False trainers (`--rounds` pairs, so the machine's load moves both alike). For each:
the CPU time of its first training step (for compile=True: compilation included; inductor compiles in this process,
TORCHINDUCTOR_COMPILE_THREADS=1, into a fresh empty cache folder unless --warm-cache) and the CPU-ms per step over the
next `--steps` steps. Writes benchmarks/results/compile_cpu.txt (or --out) with the command, commit, torch, CPU and load.
"""
import argparse, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--recipe', default='sudoku6_cpu', choices=['sudoku4_cpu', 'sudoku6_cpu'])
    ap.add_argument('--steps', type=int, default=40)
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--warm-cache', action='store_true', help="use inductor's usual cache folder instead of a fresh one")
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'compile_cpu.txt'))
    args = ap.parse_args()
    os.environ.setdefault('TORCHINDUCTOR_COMPILE_THREADS', '1')
    if not args.warm_cache: os.environ['TORCHINDUCTOR_CACHE_DIR'] = tempfile.mkdtemp(prefix='trm-inductor-')
    import torch
    from records import cpu_text
    torch.set_num_threads(1)
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    from trm_course.sudoku import sudoku_data
    size = 6 if args.recipe == 'sudoku6_cpu' else 4
    data = sudoku_data(size, n_train=1000, n_aug=20 if size == 6 else 7, n_test=1000 if size == 6 else 500, seed=0)
    load0, lines = os.getloadavg()[0], []
    for r in range(args.rounds):
        for comp in (True, False):
            cfg = get_recipe(args.recipe, data=str(data), compile=comp, progress=False, out_dir=tempfile.mkdtemp(), seed=0)
            tr = Trainer(cfg, verbose=False)
            c0 = time.process_time(); tr.fit(steps=1, callbacks=[]); first = time.process_time() - c0
            c0 = time.process_time(); tr.fit(steps=args.steps, callbacks=[]); per = (time.process_time() - c0) / args.steps
            lines.append(f'round {r}  compile={comp!s:<5}  first step {first:5.1f} CPU-s  then {per * 1000:4.0f} CPU-ms/step '
                         f'(over {args.steps} steps)  load {os.getloadavg()[0]:.1f}')
            print(lines[-1], flush=True)
    commit = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = [f'# bench_compile_cpu.py  {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  torch {torch.__version__}  commit {commit}',
            f'# host: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_text()}; '
            f'1 thread; load at start {load0:.1f}',
            f'# command: OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "?")} python benchmarks/bench_compile_cpu.py '
            + ' '.join(sys.argv[1:]),
            f'# recipe {args.recipe}; inductor cache: {"warm (the usual folder)" if args.warm_cache else "a fresh empty folder (cold: the first compile=True pays the full compile; later rounds reuse it)"}']
    Path(args.out).write_text('\n'.join(head + lines) + '\n')


if __name__ == '__main__':
    main()
