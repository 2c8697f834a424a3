#!/usr/bin/env python
"""Chapter 10's quick-mode deep-supervision run over seeds and torch thread counts: the margins of its floors.

The chapter trains a hidden-32 TRM on the running-maximum toy task with `deep_supervision_train` (AdamW, 60 batches of 64,
N_sup=4) and asserts (a) the loss of the last 5 batches is below 0.75 x that of the first 5, (b) exact accuracy rose by
more than 0.05, (c) on a frozen held-out batch of 512, a later supervision step beats the first one in exact accuracy,
and (d) the first step beats the untrained model by more than 0.05. This script computes the same quantities with the
same library calls for several seeds (the chapter runs seed 0) and thread counts, at one or more learning rates.
Budgets are batches, never time.

    .venv/bin/python benchmarks/bench_deep_supervision.py --seeds 0 1 2 3 4 5 --threads 1 2 --lr 1e-3 3e-3

Appends to benchmarks/results/deep_supervision.txt as it goes (a header: date, command, commit, torch, load; then one line per
run), so a stopped run keeps the lines it finished.
"""
import argparse, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import torch

from trm_course.core import seed_everything
from trm_course.network import TRMConfig
from trm_course.recursion import TRM
from trm_course.supervision import deep_supervision_train, running_max_batch


@torch.no_grad()
def exact_per_step(m, batch, steps):
    y, z = m.initial_carry(batch['inputs'].shape[0])
    out = []
    for _ in range(steps):
        y, z, logits, _, _ = m(y, z, batch['inputs'], batch['puzzle_identifiers'])
        out.append((logits.argmax(-1) == batch['labels']).all(-1).float().mean().item())
    return out


def run(seed, lr, n_batches, n_sup=4):
    "The chapter's cells with `seed` in place of 0."
    seed_everything(seed)
    cfg = TRMConfig(vocab_size=11, seq_len=8, hidden_size=32, num_heads=4, T=2, n=2, N_sup=n_sup, puzzle_emb_len=1,
                    forward_dtype='float32')
    model = TRM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    hist = [deep_supervision_train(model, opt, running_max_batch(64, generator=gen)) for _ in range(n_batches)]
    loss = torch.tensor([[h['loss'] for h in hs] for hs in hist])
    exact = torch.tensor([[h['exact_accuracy'] for h in hs] for hs in hist])
    held = running_max_batch(512, generator=torch.Generator().manual_seed(1000 + seed))
    seed_everything(seed)
    untrained = exact_per_step(TRM(cfg), held, n_sup)
    trained = exact_per_step(model, held, n_sup)
    return {'loss last5/first5': (loss[-5:].mean() / loss[:5].mean()).item(),
            'exact gain': (exact[-5:].mean() - exact[:5].mean()).item(),
            'held step1': trained[0], 'held best later - step1': max(trained[1:]) - trained[0],
            'held step1 - untrained max': trained[0] - max(untrained)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    ap.add_argument('--lr', type=float, nargs='+', default=[1e-3])
    ap.add_argument('--batches', type=int, default=60)
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'deep_supervision.txt'))
    a = ap.parse_args()
    commit = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [f'## {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  torch {torch.__version__}  python {platform.python_version()}'
             f'  commit {commit}', f'# command: {" ".join([Path(sys.executable).name] + sys.argv)}',
             f'# load average at start {os.getloadavg()[0]:.1f}; budgets are batches ({a.batches} of 64), not time']
    def emit(line):      # appended as it is measured: a stopped run keeps what it finished
        print(line, flush=True)
        with open(a.out, 'a') as f: f.write(line + '\n')
    for line in lines: emit(line)
    for lr in a.lr:
        for th in a.threads:
            torch.set_num_threads(th)
            for seed in a.seeds:
                r = run(seed, lr, a.batches)
                emit(f'lr={lr:g} threads={th} seed={seed}  ' + '  '.join(f'{k}={v:.3f}' for k, v in r.items()))
    emit(f'# load average at end {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
