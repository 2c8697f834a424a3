#!/usr/bin/env python
"""A longer CPU run of the lesson's tiny ARC model (nbs/20_arc_eval.ipynb, recipe `arc_tiny_cpu`).

    OMP_NUM_THREADS=1 python benchmarks/bench_arc_tiny.py                 # 3000 steps, evaluation every 250 (~10-15 min)
    python benchmarks/bench_arc_tiny.py --steps 6000 --n-train 13 --num-aug 8

Builds the same small-canvas dataset as the notebook's quick mode (trm_course.arc_data.build_arc_tiny_data),
trains the preset with the course's Trainer and, every --eval-every steps, scores the EMA model with the full
ARC protocol (every copy, un-augment, vote) on the training tasks' test inputs ('fit' split) and on the held-out
tasks' test inputs ('test' split). Writes benchmarks/results/arc_tiny.json (atomically), which the notebook plots.
"""
import argparse, datetime, json, os, platform, shutil, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from trm_course.core import atomic_write, seed_everything
from trm_course.arc_data import arc_tiny_tasks, build_arc_tiny_data
from trm_course.arc_eval import ArcEvaluator, arc_split_batches, evaluate_arc
from trm_course.dataset import read_identifiers, read_split
from trm_course.recipes import get_recipe
from trm_course.train import Trainer


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--eval-every', type=int, default=250)
    p.add_argument('--n-train', type=int, default=8)
    p.add_argument('--num-aug', type=int, default=3)
    p.add_argument('--side', type=int, default=4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'arc_tiny.json'))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    work = Path(tempfile.mkdtemp(prefix='bench-arc-tiny-'))
    load0 = os.getloadavg()
    root = build_arc_tiny_data(work / 'arc-tiny', n_train=a.n_train, side=a.side, num_aug=a.num_aug)
    train_tasks, held = arc_tiny_tasks(a.n_train)
    idents = read_identifiers(root)
    splits = {'fit': (read_split(root, 'fit'), train_tasks), 'held_out': (read_split(root, 'test'), held)}
    cfg = get_recipe('arc_tiny_cpu', data=str(root), out_dir=str(work / 'run'), max_steps=a.steps, eval_every=None,
                     progress=False, seed=a.seed)
    seed_everything(cfg.seed)
    tr = Trainer(cfg)
    records, t_train = [], 0.0
    while tr.step < a.steps:
        t = time.time(); tr.fit(steps=a.eval_every, callbacks=tr.config_callbacks(at_end=None)); t_train += time.time() - t
        last = [r for r in tr.history if r['kind'] == 'train'][-1]
        rec = {'step': tr.step, 'epoch': tr.epoch, 'train_seconds': round(t_train, 1), 'lm_loss': last['train/lm_loss'],
               'token_accuracy': last.get('train/accuracy'), 'load': round(os.getloadavg()[0], 2)}
        with tr.ema.swapped(tr.model):
            for name, (split, tasks) in splits.items():
                res = evaluate_arc(tr.model.model, arc_split_batches(split, 64), ArcEvaluator(tasks, identifiers=idents))
                rec.update({f'{name}/pass@{k}': res.scores[k] for k in (1, 2, 5)})
        records.append(rec)
        print(json.dumps(rec), flush=True)
    out = {'script': 'benchmarks/bench_arc_tiny.py', 'args': vars(a), 'recipe': get_recipe('arc_tiny_cpu').to_dict(),
           'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), 'torch': torch.__version__,
           'host': f'{platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}',
           'load_start': [round(x, 2) for x in load0], 'load_end': [round(x, 2) for x in os.getloadavg()],
           'train_tasks': [t.id for t in train_tasks], 'held_out_tasks': [t.id for t in held], 'records': records}
    with atomic_write(a.out, 'w') as f: json.dump(out, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    print('wrote', a.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
