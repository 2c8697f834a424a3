"""One or two CPU threads for the small CPU recipes, on an idle and on a busy machine.

    python benchmarks/bench_threads.py [--recipe sudoku4_cpu] [--steps 40] [--out benchmarks/results/threads_cpu.txt]

Trains `--recipe` on a small 4x4 Sudoku dataset with 1 and with 2 torch threads (interleaved, two rounds each, after
5 warm-up steps), first on an otherwise idle machine, then with two CPU-heavy processes (NumPy matrix products, one
thread each) beside it, and prints training steps per second. `quickstart.cpu_threads()` (the quickstart's default)
picks its thread count from this: a second thread pays only when a second core is free.
"""
import argparse, datetime, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

import torch

from trm_course.recipes import get_recipe
from trm_course.train import JsonlLog, Trainer
from trm_course.sudoku import build_sudoku4_data

HOG = ("import os; os.environ['OMP_NUM_THREADS'] = '1'\nimport numpy as np\n"
       "a = np.random.default_rng(0).standard_normal((256, 256))\nwhile True: a = np.tanh(a @ a.T / 256)\n")


def steps_per_second(data, out, recipe, threads, steps):
    torch.set_num_threads(threads)
    tr = Trainer(get_recipe(recipe, data=str(data), out_dir=str(out), max_steps=10_000, eval_every=None, progress=False),
                 verbose=False, if_exists='overwrite')                # every measurement starts a new log in `out`
    tr.fit(steps=5, callbacks=[JsonlLog(tr.cfg.log_every)])          # warm-up (the log, as before: no evaluation)
    t0 = time.time()
    tr.fit(steps=steps, callbacks=[JsonlLog(tr.cfg.log_every)])
    return steps / (time.time() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--recipe', default='sudoku4_cpu')
    p.add_argument('--steps', type=int, default=40)
    p.add_argument('--out', default=None)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix='trm-threads-'))
    build_sudoku4_data(work / 'data', 1000, 7, 100, 0)
    lines = [f'# {datetime.datetime.now().isoformat(timespec="seconds")}  {platform.node()}  {os.cpu_count()} cores  '
             f'torch {torch.__version__}',
             f'# command: python {" ".join(sys.argv)}', f'# load average at start {os.getloadavg()[0]:.2f}']
    for hogs in (0, 2):
        ps = [subprocess.Popen([sys.executable, '-c', HOG]) for _ in range(hogs)]
        try:
            time.sleep(2 if hogs else 0)
            r = {1: [], 2: []}
            for _ in range(2):
                for th in (1, 2): r[th].append(steps_per_second(work / 'data', work / 'run', args.recipe, th, args.steps))
        finally:
            for q in ps: q.kill()
        lines.append(f'{args.recipe}, {hogs} CPU-heavy processes beside it: steps/s with 1 thread '
                     + ' '.join(f'{v:.2f}' for v in r[1]) + '; with 2 threads ' + ' '.join(f'{v:.2f}' for v in r[2]))
    text = '\n'.join(lines) + '\n'
    print(text, end='')
    if args.out:
        with open(args.out, 'a') as f: f.write(text)


if __name__ == '__main__':
    main()
