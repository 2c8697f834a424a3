#!/usr/bin/env python
"""The quick-mode results that chapters 13, 14, 17, 18, 20, 21 and 22 show and assert, over several seeds and thread counts.

Each chapter shows one seeded run and asserts a floor under what it shows. This script measures the same quantities
with the same library functions and the same arguments as the chapters' quick-mode cells, for several seeds, so that
every floor can be chosen below the worst seed (with a margin) and still far above an untrained model. Budgets are
steps, never time: the numbers do not depend on the machine's speed or load.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_chapter_floors.py                      # all chapters, seeds 0 1 2
    OMP_NUM_THREADS=1 /tmp/venv214/bin/python benchmarks/bench_chapter_floors.py --chapters 21 --seeds 0 1 2 3
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_chapter_floors.py --chapters 22 --threads 2   # 2 torch threads

Next to each trained result it records the baseline the chapter computes on the same rows (`copy <metric>`: what
copying the input scores, trm_course.core.copy_baseline), so a floor can be checked to sit between the two.

Results are appended to benchmarks/results/chapter_floors.txt (one block per run: date, torch, command, load average
at the start and after each chapter, then one line per chapter, metric and seed, with the min and mean over seeds).
"""
import argparse, os, platform, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('TRM_MODE', 'quick')

import torch

from trm_course.core import seed_everything, get_device, current_mode, copy_baseline


def _copy(root, split, n):
    "copy_baseline on the first `n` rows of a dataset split (the rows the chapter evaluates)."
    from trm_course.dataset import read_split
    s = read_split(root, split)
    return copy_baseline(s.inputs[:n], s.labels[:n], ignore_label=s.ignore_label_id)


def ch13(seed):
    "Chapter 13: live vs EMA weights on the noisy toy regression (5000 steps, quick mode)."
    from trm_course.ema import ema_demo, ema_effect
    e = ema_effect(ema_demo(5000, seed=seed))
    return {'ema/raw mean MSE (last quarter)': e['ema_mean'] / e['raw_mean'], 'ema/raw sd': e['ema_sd'] / e['raw_sd'],
            'ema/raw final MSE': e['ema_final'] / e['raw_final'], 'EMA below live from step': e['below_from'] or 10**9}


def ch14(seed):
    "Chapter 14: AdamATan2 vs AdamW on two spirals, 300 steps, loss x1 and x2^-30."
    from trm_course.optim import AdamATan2, compare_run
    cfg = dict(lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    a1, m1 = compare_run(lambda ps: AdamATan2(ps, **cfg), 300, seed=seed)
    a2, m2 = compare_run(lambda ps: AdamATan2(ps, **cfg), 300, scale=2.0 ** -30, seed=seed)
    w1, _ = compare_run(lambda ps: torch.optim.AdamW(ps, eps=1e-8, **cfg), 300, seed=seed)
    w2, _ = compare_run(lambda ps: torch.optim.AdamW(ps, eps=1e-8, **cfg), 300, scale=2.0 ** -30, seed=seed)
    same = a1 == a2 and all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))
    return {'AdamATan2 final/first loss': a1[-1] / a1[0], 'AdamW final/first loss': w1[-1] / w1[0],
            'AdamW x2^-30 final loss': w2[-1], 'AdamW x2^-30 / x1 final loss': w2[-1] / w1[-1],
            'AdamATan2 scale invariant (1=yes)': float(same)}


def ch17(seed):
    "Chapter 17: 4x4 sudoku4_cpu (batch 16, lr 3e-3, warm-up 20) 300 steps; 6x6 sudoku6_cpu 100 steps."
    from trm_course.experiments import learning_curve
    from trm_course.sudoku import sudoku_data
    from trm_course.recipes import get_recipe
    d4 = sudoku_data(4, n_train=1000, n_aug=7, n_test=500)
    d6 = sudoku_data(6, n_train=300, n_aug=20, n_test=200)
    cfg4 = get_recipe('sudoku4_cpu', data=str(d4), seed=seed).replace(global_batch_size=16, lr=3e-3, warmup_steps=20)
    c4 = learning_curve(cfg4, steps=300, eval_every=50, max_examples=200, clock='cpu', verbose=False)
    c6 = learning_curve(get_recipe('sudoku6_cpu', data=str(d6), seed=seed), steps=100, eval_every=50, max_examples=100,
                        clock='cpu', verbose=False)
    b4, b6 = _copy(d4, 'test', c4[-1]['test_count']), _copy(d6, 'test', c6[-1]['test_count'])
    return {'4x4 exact': c4[-1]['exact'], '4x4 token': c4[-1]['token'], '4x4 token gain': c4[-1]['token'] - c4[0]['token'],
            '4x4 copy exact': b4['exact'], '4x4 copy token': b4['token'], '4x4 untrained token': c4[0]['token'],
            '6x6 token': c6[-1]['token'], '6x6 untrained token': c6[0]['token'], '6x6 copy token': b6['token'],
            '6x6 token gain': c6[-1]['token'] - c6[0]['token'], '6x6 loss last/first': c6[-1]['loss'] / c6[1]['loss']}


def ch18(seed):
    "Chapter 18: maze_small_cpu, 300 steps, evaluation on 128 held-out mazes."
    from trm_course.maze import maze_small_data
    from trm_course.maze_experiments import maze_trainer, maze_curve
    from trm_course.recipes import get_recipe
    data = maze_small_data()
    cfg = get_recipe('maze_small_cpu', data=str(data), seed=seed)
    c = maze_curve(trainer=maze_trainer(cfg), steps=300, eval_every=50, max_examples=128, threads=torch.get_num_threads(),
                   verbose=False)
    b = _copy(data, 'test', c[-1]['test_count'])
    return {'exact': c[-1]['exact'], 'valid': c[-1]['valid'], 'token': c[-1]['token'],
            'token gain': c[-1]['token'] - c[0]['token'], 'copy exact': b['exact'], 'copy token': b['token'],
            'untrained exact': c[0]['exact'], 'untrained token': c[0]['token']}


def _arc_tiny_root():
    from trm_course.arc_data import build_arc_tiny_data
    from trm_course.core import cache_dir
    return build_arc_tiny_data(cache_dir('datasets', 'watch-arc-tiny'))


def ch20(seed):
    "Chapter 20: arc_tiny_cpu with the Trainer, 750 steps; the ARC protocol on the EMA weights (and chapter 21's ARC trace)."
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    from trm_course.arc_data import arc_tiny_tasks
    from trm_course.arc_eval import ArcEvaluator, evaluate_arc, arc_split_batches
    from trm_course.dataset import read_split, read_identifiers
    root = _arc_tiny_root()
    out = tempfile.mkdtemp(prefix='floors-arc-')
    cfg = get_recipe('arc_tiny_cpu', data=str(root), out_dir=out, max_steps=750, eval_every=None, progress=False, seed=seed)
    seed_everything(seed)
    tr = Trainer(cfg, verbose=False)
    tr.fit(callbacks=tr.config_callbacks(at_end=None))   # the log, no evaluation at the end (as chapter 20)
    log = [r for r in tr.history if r['kind'] == 'train']
    idents, (tiny_train, tiny_held) = read_identifiers(root), arc_tiny_tasks(8)
    res = {}
    with tr.ema.swapped(tr.model):
        for split, tasks in (('fit', tiny_train), ('test', tiny_held)):
            r = evaluate_arc(tr.model.model, arc_split_batches(read_split(root, split), 64), ArcEvaluator(tasks, identifiers=idents))
            res[split] = r.scores
        # chapter 21 watches this same model (same recipe, data and seed): its ARC numbers, from a 16-step trace
        from trm_course.watch import trace
        split = read_split(root, 'fit')
        batch = {k: v.to(tr.device) for k, v in next(arc_split_batches(split, split.n_examples)).items()}
        t = trace(tr.model.model, batch, N_sup=16)
    b = copy_baseline(read_split(root, 'fit').inputs, read_split(root, 'fit').labels, ignore_label=split.ignore_label_id)
    return {'copy exact (fit rows)': b['exact'], 'training tasks pass@1': res['fit'][1], 'training tasks pass@2': res['fit'][2],
            'held-out pass@2': res['test'][2], 'answer loss last/first': log[-1]['train/lm_loss'] / log[0]['train/lm_loss'],
            'ch21 arc exact@N_sup': float(t.correct[cfg.model.N_sup - 1].mean()), 'ch21 arc token@N_sup': float(t.token_acc[cfg.model.N_sup - 1].mean())}


def ch21(seed):
    "Chapter 21: the Sudoku and maze models it watches (quick mode), traced for 16 steps (its ARC model: chapter 20's)."
    from trm_course.watch import watch_sudoku_task, watch_maze_task, train_trm, trace, accuracy_by_step, halting_savings
    dev = get_device()
    out = {}
    for name, task in (('sudoku', watch_sudoku_task(dev)), ('maze', watch_maze_task(dev))):
        fit = {k: v for k, v in task['fit'].items() if k != 'data_key'}
        model, losses = train_trm(task['cfg'], task['sample'], seed=seed, device=dev, **fit)
        tr = trace(model, task['batch'], N_sup=16)
        acc, hs = accuracy_by_step(tr), halting_savings(tr)
        out[f'{name} exact@16'] = float(acc['exact'][-1]); out[f'{name} token@16'] = float(acc['token'][-1])
        out[f'{name} halting fires (fraction)'] = hs['frac_halted_early']
        if name == 'sudoku': out['sudoku exact at halting step'] = hs['exact_at_halt']
    return out


def ch22(seed):
    "Chapter 22: the quick rows trm, one_step, recursion (6x6 sudoku6_cpu), 150 steps, 250 held-out puzzles (at_steps)."
    from trm_course.ablations import run_ablation, ablation_data
    out = {}
    for row in ('trm', 'one_step', 'recursion'):
        r = run_ablation(row, seed=seed, cpu_seconds=None, steps=150, eval_examples=250, verbose=False)
        out[f'{row} token@150'], out[f'{row} exact@150'] = r['at_steps']['token'], r['at_steps']['exact']
        n = r['at_steps']['count']
    b = _copy(ablation_data(), 'test', n)
    out['copy token'], out['copy exact'] = b['token'], b['exact']
    return out


CHAPTERS = {'13': ch13, '14': ch14, '17': ch17, '18': ch18, '20': ch20, '21': ch21, '22': ch22}


def _describe() -> str:
    import subprocess
    try: return subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError: return 'unknown'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--chapters', nargs='+', default=list(CHAPTERS), choices=list(CHAPTERS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--jobs', type=int, default=1, help='seeds run in parallel processes')
    ap.add_argument('--threads', type=int, default=1, help='torch threads per process (the chapters run with 1 or 2)')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'chapter_floors.txt'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cmd = f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")} {Path(sys.executable).parent.parent}/bin/python ' \
          f'benchmarks/bench_chapter_floors.py --chapters {" ".join(a.chapters)} --seeds {" ".join(map(str, a.seeds))} ' \
          f'--jobs {a.jobs} --threads {a.threads}'
    head = [f'## {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  torch {torch.__version__}  python {platform.python_version()}  '
            f'device {get_device()}  mode {current_mode()}  host {platform.machine()}, {os.cpu_count()} CPUs, torch threads {a.threads}',
            f'# commit {_describe()}',
            f'# command: {cmd}', f'# load average at start {os.getloadavg()[0]:.1f} (results are budgeted by steps: load changes times only)']
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, 'a') as f: f.write('\n'.join(head) + '\n')
    print('\n'.join(head), flush=True)
    for ch in a.chapters:
        t0 = time.time()
        if a.jobs > 1:
            import multiprocessing as mp
            with mp.get_context('spawn').Pool(min(a.jobs, len(a.seeds)), initializer=torch.set_num_threads, initargs=(a.threads,)) as pool:
                per_seed = dict(zip(a.seeds, pool.map(CHAPTERS[ch], a.seeds)))
            for s in a.seeds: print(f'chapter {ch} seed {s}: {per_seed[s]}', flush=True)
        else:   # one seed after another, each printed (and appended) as soon as it is done
            per_seed = {}
            for s in a.seeds:
                per_seed[s] = CHAPTERS[ch](s)
                line = f'# chapter {ch} seed {s} threads {a.threads}: ' + ', '.join(f'{k}={v:.4g}' for k, v in per_seed[s].items())
                print(line, flush=True)
                with open(out, 'a') as f: f.write(line + '\n')
        lines = [f'# chapter {ch} ({time.time() - t0:.0f} s, load average after it {os.getloadavg()[0]:.1f}): {CHAPTERS[ch].__doc__}']
        for m in per_seed[a.seeds[0]]:
            vals = [per_seed[s][m] for s in a.seeds]
            lines.append(f'ch{ch}  {m:<36s} ' + '  '.join(f'seed{s}={v:.4g}' for s, v in zip(a.seeds, vals)) +
                         f'   min={min(vals):.4g} max={max(vals):.4g} mean={statistics.mean(vals):.4g}')
        with open(out, 'a') as f: f.write('\n'.join(lines) + '\n')
        print('\n'.join(lines), flush=True)


if __name__ == '__main__':
    main()
