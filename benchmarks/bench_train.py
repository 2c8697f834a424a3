#!/usr/bin/env python
"""Throughput and peak memory of one full TRAINING step, as `trm_course.train.Trainer.train_step` runs it.

    python benchmarks/bench_train.py                                   # CPU, float32, small batches (~5-10 min)
    python benchmarks/bench_train.py --only sudoku4_cpu sudoku6_cpu    # a subset
    python benchmarks/bench_train.py --device cuda --dtype bfloat16 --compile --batch 768 --steps 20 --peak-tflops 989

A full training step is everything the trainer does per batch: one supervision step of the ACT model (T-1 cycles
without gradient, one with), the stablemax + halting loss, backward, AdamATan2 on the dense weights, the sparse
sign-SGD on the batch's puzzle-embedding rows, the learning-rate schedule and the EMA update.

For each recipe (the small CPU recipes and the published runs, trm_course.recipes) a dataset folder with the
preset's real shape (vocab, sequence length, number of puzzle identifiers; random tokens) is written to a temporary
folder, a Trainer is built exactly as `trm-course train` builds it (CPU presets at their own batch size, published
ones at a CPU-friendly batch unless --batch), one warm-up step runs, then --steps timed steps. Reported:
  examples/s  = batch / median step time
  peak MiB    = CUDA: torch.cuda.max_memory_allocated; CPU: peak RSS of the fresh subprocess (includes Python + torch)
  GFLOP/ex    = FLOPs of one training step counted by torch.utils.flop_counter.FlopCounterMode (matmuls and
                attention, forward + backward), divided by the batch
  GFLOP/s     = achieved rate; with --peak-tflops P also MFU = achieved / P (model-FLOPs utilisation)
Each preset runs in its own subprocess so that peak memory does not mix.
"""
import argparse, json, os, platform, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CPU_PRESETS = ['sudoku4_cpu', 'sudoku6_cpu', 'maze_small_cpu', 'arc_tiny_cpu']
PUBLISHED = ['sudoku_mlp_t', 'sudoku_attn', 'maze', 'arc1']
CPU_BATCH = {'sudoku_mlp_t': 8, 'sudoku_attn': 8, 'maze': 2, 'arc1': 2}


def data_shape(name: str, cfg_data: str, args) -> tuple[int, int, int, str]:
    "vocab, seq_len, identifiers of a published recipe's dataset (its `data_shape`; ARC's identifiers counted here), and a note."
    from trm_course.recipes import RECIPES
    shape = RECIPES[name].data_shape
    if 'num_puzzle_identifiers' in shape:
        return shape['vocab_size'], shape['seq_len'], shape['num_puzzle_identifiers'], 'the recipe\'s dataset shape'
    if cfg_data.startswith('arc1') or cfg_data.startswith('arc2'):
        if args.arc_ids: return shape['vocab_size'], shape['seq_len'], args.arc_ids, 'identifiers given by --arc-ids'
        from trm_course.arc_data import plan_recipe
        plan = plan_recipe(cfg_data[:4], 1000, allow_missing_conceptarc=True)
        return shape['vocab_size'], shape['seq_len'], len(plan.tids) + 1, f'identifiers of the {cfg_data[:4]} plan built here ({plan.subsets})'
    raise SystemExit(f'no data shape known for {cfg_data!r}')


CPU_DATA = {'sudoku4_cpu': 'sudoku4', 'sudoku6_cpu': 'sudoku6', 'maze_small_cpu': 'maze_small', 'arc_tiny_cpu': 'arc_tiny'}


def build_real(name: str, out: Path) -> Path:
    "The CPU preset's own dataset (few puzzles: only the shapes and the sampler matter here)."
    import argparse as ap
    from trm_course.cli import build_data_main
    small = {'sudoku4': (200, 50, 3), 'sudoku6': (100, 50, 3), 'maze_small': (500, 50, None), 'arc_tiny': (None, None, None)}
    n_train, n_test, n_aug = small[CPU_DATA[name]]
    args = ap.Namespace(kind=CPU_DATA[name], out=str(out), n_train=n_train, n_test=n_test, n_aug=n_aug, source='generated', seed=0)
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        if build_data_main(args) != 0: raise SystemExit(f'building the data of {name} failed')
    return out


def write_fake_dataset(root: Path, vocab: int, seq: int, ids: int, n: int = 256) -> Path:
    import numpy as np
    from trm_course.dataset import split_from_arrays, write_dataset
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (n, seq)).astype(np.uint8)
    y = rng.integers(1, vocab, (n, seq)).astype(np.uint8)
    pid = rng.integers(1, ids, n) if ids > 1 else np.zeros(n, dtype=np.int64)
    names = ['<blank>'] + [f'p{i}' for i in range(1, ids)]
    split = split_from_arrays(x, y, vocab_size=vocab, identifiers=pid, num_puzzle_identifiers=ids)
    return write_dataset(root, {'train': split}, names if ids > 1 else None)


def child(name: str, args) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    from trm_course.dataset import collate
    torch.set_num_threads(args.threads)
    base = get_recipe(name)
    vocab, seq, ids, note = data_shape(name, base.data, args) if name not in CPU_PRESETS else (0, 0, 0, '')
    batch = args.batch or (base.global_batch_size if name in CPU_PRESETS else CPU_BATCH[name])
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        if name in CPU_PRESETS:    # the preset's real (small) dataset, as `trm-course build-data` writes it
            data = build_real(name, Path(tmp) / 'data')
            meta = json.loads((data / 'train' / 'dataset.json').read_text())
            vocab, seq, ids = meta['vocab_size'], meta['seq_len'], meta['num_puzzle_identifiers']
            note = f'`trm-course build-data {CPU_DATA[name]}` (small sizes)'
        else:
            data = write_fake_dataset(Path(tmp) / 'data', vocab, seq, ids, n=max(64, 4 * batch))
        cfg = base.replace(data=str(data), global_batch_size=batch, device=args.device, dtype=args.dtype,
                           compile=args.compile, out_dir=str(Path(tmp) / 'run'), progress=False, max_steps=10**6)
        tr = Trainer(cfg, verbose=False)
        dev = tr.device
        def sync():
            if dev.type == 'cuda': torch.cuda.synchronize()
        batches = [collate(tr.train_data, b, tr.local_batch_size) for _, b in zip(range(args.steps + 2), tr.sampler.iter_epoch(0))]
        while len(batches) < args.steps + 2: batches += batches
        tr.train_step(batches[0]); sync()                     # warm-up (and compilation)
        with FlopCounterMode(display=False) as fc:            # counted on a separate step
            tr.train_step(batches[1])
        flops = fc.get_total_flops()
        if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
        times = []
        for b in batches[2:2 + args.steps]:
            sync(); t = time.perf_counter(); tr.train_step(b); sync(); times.append(time.perf_counter() - t)
        peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == 'cuda' else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        n_params = sum(p.numel() for p in tr.model.parameters())
        table = tr.model.model.puzzle_emb.weight.numel() if hasattr(tr.model.model, 'puzzle_emb') else 0
    med = statistics.median(times)
    return dict(name=name, batch=batch, vocab=vocab, seq=seq, ids=ids, note=note, params=n_params, table=table,
                T=cfg.model.T, n=cfg.model.n, hidden=cfg.model.hidden_size, mlp_t=cfg.model.mlp_t, precision=tr.precision,
                step_s=med, times=times, ex_per_s=batch / med, peak_mib=peak, rss_before_mib=rss0,
                gflop_per_ex=flops / batch / 1e9, gflops=flops / med / 1e9)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', nargs='*', default=None)
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='float32')
    p.add_argument('--compile', action='store_true')
    p.add_argument('--batch', type=int, default=None, help='one batch size for every preset (default: see CPU_BATCH)')
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--arc-ids', type=int, default=None, help='puzzle identifiers of the ARC run (default: build the plan)')
    p.add_argument('--peak-tflops', type=float, default=None, help='the accelerator\'s peak for this dtype -> MFU')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print('RESULT ' + json.dumps(child(args.child, args))); return
    import torch
    names = args.only or CPU_PRESETS + PUBLISHED
    t0 = time.time()
    print(f'# bench_train.py  {time.strftime("%Y-%m-%d %H:%M")}  torch {torch.__version__}  device {args.device}  '
          f'dtype {args.dtype}  compile {args.compile}  threads {args.threads}')
    print(f'# host: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start '
          f'(wall times are noisy on a shared machine)')
    print(f'# command: python benchmarks/bench_train.py {" ".join(sys.argv[1:])}')
    print()
    hdr = f'{"preset":15s} {"batch":>5s} {"seq":>4s} {"params":>10s} {"emb rows":>9s} {"step s":>7s} {"ex/s":>7s} ' \
          f'{"peak MiB":>9s} {"GFLOP/ex":>9s} {"GFLOP/s":>8s}' + ('  MFU' if args.peak_tflops else '')
    print(hdr)
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, '--child', name, '--device', args.device, '--dtype', args.dtype,
               '--steps', str(args.steps), '--threads', str(args.threads)]
        if args.compile: cmd.append('--compile')
        if args.batch: cmd += ['--batch', str(args.batch)]
        if args.arc_ids: cmd += ['--arc-ids', str(args.arc_ids)]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = [l for l in res.stdout.splitlines() if l.startswith('RESULT ')]
        if res.returncode or not line:
            print(f'{name:15s} FAILED: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}')
            continue
        r = json.loads(line[0][7:]); rows.append(r)
        mfu = f'  {r["gflops"] / (args.peak_tflops * 1e3):.1%}' if args.peak_tflops else ''
        print(f'{name:15s} {r["batch"]:5d} {r["seq"]:4d} {r["params"]:10,d} {r["table"] // max(r["hidden"], 1):9,d} '
              f'{r["step_s"]:7.3f} {r["ex_per_s"]:7.2f} {r["peak_mib"]:9.0f} {r["gflop_per_ex"]:9.2f} {r["gflops"]:8.1f}{mfu}',
              flush=True)
    print()
    for r in rows:
        print(f'{r["name"]:15s} hidden {r["hidden"]}, T={r["T"]}, n={r["n"]}, {"mlp_t" if r["mlp_t"] else "attention"}, '
              f'{r["precision"]}; data: vocab {r["vocab"]}, seq {r["seq"]}, {r["ids"]:,} identifiers ({r["note"]}); '
              f'step times {", ".join(f"{t:.3f}" for t in r["times"])} s')
    print('\nparams = trained dense parameters (the puzzle-embedding table is a buffer updated by sparse sign-SGD; '
          '"emb rows" = its rows).')
    print('peak MiB on CPU = peak RSS of the process, including ~the Python + torch baseline '
          f'({statistics.median([r["rss_before_mib"] for r in rows]) if rows else 0:.0f} MiB before building anything).')
    print(f'load average at end {os.getloadavg()[0]:.1f}; total benchmark time {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
