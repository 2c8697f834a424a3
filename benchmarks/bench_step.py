#!/usr/bin/env python
"""One TRM training step, measured every way it can run, in ONE process and interleaved: the bare ACT step (eager,
the course's in-place compile of the tiny net, and the whole step compiled), the same step inside the course's
`Trainer.train_step` (eager and compiled), and the authors' model at the same config and the same weights when
`--reference-dir` points at a checkout of their repository (SamsungSAILMontreal/TinyRecursiveModels; fetched by you
into an ignored folder, nothing of theirs is part of this package).

    python benchmarks/bench_step.py --small                            # CPU smoke run (~2 min): tiny config
    python benchmarks/bench_step.py --config sudoku_attn --device cuda --dtype bfloat16 --batch 768 \\
        --reference-dir .reference/TinyRecursiveModels --out benchmarks/results/step_h200.txt
    python benchmarks/bench_step.py ... --profile trainer_compiled     # + a profiler table of the top kernels

What a "step" is, for every mode: refill the halted rows from the batch, one supervision step with the ACT carry
(T-1 recursions without gradient, one with), the stablemax answer loss + halting loss, backward. The Trainer modes
add what the trainer does per step: host-to-device copy, the optimizers (AdamATan2 + sparse sign-SGD), the
learning-rate schedule and the EMA update, which the bare modes leave out (their gradients are zeroed instead).

Reported per mode: median step time (CUDA events on a GPU, perf_counter on the CPU), the step's peak memory above
what was resident before it (torch.cuda.max_memory_allocated; on the CPU not measured: `-`), time of the first
(compiling) steps, dynamo's graph/recompile/graph-break counters during warm-up and during the timed steps (a
recompile or a new graph after warm-up is a bug), and MFU = FLOPs counted by FlopCounterMode on one eager step
(forward + backward) / step time / the chip's dense peak for the dtype (printed; override with --peak-tflops).
Modes are timed round-robin, one step each per round, so a noisy machine slows all of them alike.
"""
import argparse, dataclasses, json, os, platform, statistics, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ('bare_eager', 'bare_compiled_net', 'bare_compiled_step', 'trainer_eager', 'trainer_compiled',
         'ref_eager', 'ref_compiled')
# dense peak TFLOP/s per chip for bf16/fp16 (fp32 is much lower: pass --peak-tflops); by device-name substring
SHAPES = {'sudoku_attn': (11, 81), 'sudoku_mlp_t': (11, 81), 'maze': (6, 900), 'arc': (12, 900)}  # vocab, seq_len
PEAKS = {'H200': 989.0, 'H100': 989.0, 'A100': 312.0, 'L40S': 362.0, 'L4': 121.0, 'A10G': 125.0, 'T4': 65.0, 'V100': 125.0}


def published_model(name: str):
    "The published model config `name`, from the recipes (the one source)."
    from trm_course.recipes import get_recipe
    return get_recipe(name).model


def fake_dataset(root: Path, vocab: int, seq: int, ids: int, n: int) -> Path:
    "A dataset folder with the config's shape and random tokens (only shapes matter for speed)."
    import numpy as np
    from trm_course.dataset import split_from_arrays, write_dataset
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (n, seq)).astype(np.uint8)
    y = rng.integers(2, vocab, (n, seq)).astype(np.uint8)
    pid = rng.integers(1, ids, n) if ids > 1 else np.zeros(n, dtype=np.int64)
    split = split_from_arrays(x, y, vocab_size=vocab, identifiers=pid, num_puzzle_identifiers=ids)
    names = ['<blank>'] + [f'p{i}' for i in range(1, ids)] if ids > 1 else None
    return write_dataset(root, {'train': split}, names)


def make_trainer(name, model_cfg, data, args, compile_: bool, out_dir):
    "A Trainer for the published recipe `name` with the benchmark's model, batch, device and dtype."
    changes = dict(data=str(data), global_batch_size=args.batch, device=args.device, dtype=args.dtype,
                   compile=compile_, out_dir=str(out_dir), progress=False, max_steps=10**6, warmup_steps=10)
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    cfg = get_recipe(name)
    keep = {f: getattr(model_cfg, f) for f in ('hidden_size', 'num_heads', 'T', 'n', 'mlp_t', 'pos_encodings',
                                                'puzzle_emb_ndim', 'puzzle_emb_len', 'layers', 'expansion')}
    cfg = cfg.replace(model=dataclasses.replace(cfg.model, **keep), **changes)
    return Trainer(cfg, verbose=False)


def host_batches(tr, k: int):
    "k host batches from the trainer's own data pipeline."
    import itertools
    return list(itertools.islice(tr.batches(), k))


class Bare:
    "The ACT step without the trainer: refill + supervision step + loss + backward; gradients zeroed after."
    def __init__(self, wrapped, batch, compiled_step: bool):
        self.wrapped, self.batch, self.carry = wrapped, batch, None
        self.B = batch['inputs'].shape[0]
        # like the authors' pretrain.py: the whole forward (ACT step + loss head) compiled, backward outside it
        self.fn = __import__('torch').compile(wrapped) if compiled_step else wrapped
    def __call__(self):
        if self.carry is None: self.carry = self.wrapped.initial_carry(self.batch)
        self.carry, loss, _, _, _ = self.fn(self.carry, self.batch, training=True)
        (loss / self.B).backward()
        for p in self.wrapped.parameters(): p.grad = None


class Ref:
    "The authors' loss head + model on the same batch (their own ACT carry)."
    def __init__(self, head, batch, compiled: bool):
        import torch
        self.head, self.batch, self.carry = head, batch, None
        self.fn = torch.compile(head) if compiled else head
    def __call__(self):
        if self.carry is None:
            with __import__('torch').device(self.batch['inputs'].device): self.carry = self.head.initial_carry(self.batch)
        self.carry, loss, _, _, _ = self.fn(return_keys=[], carry=self.carry, batch=self.batch)
        (loss / self.batch['inputs'].shape[0]).backward()
        for p in self.head.parameters(): p.grad = None


def reference_head(ours, args, dev):
    "The authors' ACTLossHead(TinyRecursiveReasoningModel_ACTV1) with our weights (state_dict_to_reference)."
    sys.path.insert(0, str(Path(args.reference_dir).resolve()))
    from models.recursive_reasoning.trm import TinyRecursiveReasoningModel_ACTV1
    from models.losses import ACTLossHead
    from trm_course import reference as R
    cfg = ours.cfg
    d = R.to_reference(cfg)
    d.update(batch_size=args.batch, forward_dtype=args.dtype)
    d.setdefault('H_layers', 0)
    d.setdefault('no_ACT_continue', True)
    head = ACTLossHead(TinyRecursiveReasoningModel_ACTV1(d), loss_type='stablemax_cross_entropy').to(dev)
    sd = R.state_dict_to_reference(ours)
    missing, unexpected = head.model.load_state_dict(sd, strict=False)
    bad = [m for m in missing if 'puzzle_emb' not in m]
    if bad or unexpected: raise SystemExit(f'reference weights do not fit: missing {bad}, unexpected {list(unexpected)}')
    head.train()
    return head


def dynamo_counts() -> dict:
    try:
        from torch._dynamo.utils import counters
    except ImportError: return {}
    return {'graphs': counters['stats'].get('unique_graphs', 0), 'breaks': sum(counters['graph_break'].values()),
            'recompiles': sum(counters['recompiles'].values()) if 'recompiles' in counters else 0}


def peak_tflops(args, dev) -> tuple[float | None, str]:
    import torch
    if args.peak_tflops: return args.peak_tflops, 'given by --peak-tflops'
    if dev.type != 'cuda' or args.dtype == 'float32': return None, 'unknown (CPU or float32: pass --peak-tflops)'
    name = torch.cuda.get_device_name(dev)
    for k, v in PEAKS.items():
        if k in name: return v, f'{name}: dense {args.dtype} peak {v:g} TFLOP/s (datasheet, no sparsity)'
    return None, f'{name}: peak unknown, pass --peak-tflops'


def build_modes(args, dev, tmp: Path) -> tuple[dict, object, dict]:
    "Every requested mode as a zero-argument step function; the base model config; one device batch."
    import torch
    from trm_course.recursion import TRM
    from trm_course.halting import TRMWithLoss
    cfg = published_model(args.config)
    vocab, seq = SHAPES[args.config.rstrip('12')]        # the dataset's shape (the recipe leaves it to the data)
    cfg = dataclasses.replace(cfg, vocab_size=cfg.vocab_size or vocab, seq_len=cfg.seq_len or seq)
    if args.small: cfg = dataclasses.replace(cfg, hidden_size=64, num_heads=4, T=2, n=2)
    ids = 2 if cfg.puzzle_emb_ndim > 0 else 1
    data = fake_dataset(tmp / 'data', cfg.vocab_size, cfg.seq_len, ids, n=4 * args.batch)
    modes, first = {}, None
    for mode in args.modes:
        if mode.startswith('trainer'):
            tr = make_trainer(args.config, cfg, data, args, mode == 'trainer_compiled', tmp / mode)
            if first is not None: tr.model.load_state_dict(first.state_dict())
            batches = host_batches(tr, 4)
            state = {'i': 0}
            def step(tr=tr, batches=batches, state=state):
                tr.train_step(batches[state['i'] % len(batches)]); state['i'] += 1
            modes[mode] = step
            if first is None: first = tr.model
            full_cfg = tr.model.model.cfg
            if 'batch' not in locals(): batch = {k: v.to(dev) for k, v in batches[0].items()}
    if first is None or 'batch' not in locals():     # no trainer mode asked for: build the config and batch here
        tr = make_trainer(args.config, cfg, data, args, False, tmp / 'plain')
        full_cfg, first = tr.model.model.cfg, tr.model
        batch = {k: v.to(dev) for k, v in host_batches(tr, 1)[0].items()}
    for mode in args.modes:
        if mode.startswith('bare'):
            torch.manual_seed(0)
            wrapped = TRMWithLoss(TRM(full_cfg)).to(dev)
            wrapped.load_state_dict(first.state_dict())
            if mode == 'bare_compiled_net': wrapped.model.net.compile()
            modes[mode] = Bare(wrapped, batch, compiled_step=mode == 'bare_compiled_step')
        elif mode.startswith('ref'):
            modes[mode] = Ref(reference_head(first.model, args, dev), batch, compiled=mode == 'ref_compiled')
    return modes, full_cfg, batch


def first_model(modes):
    "The course's wrapped model of the first bare or trainer mode."
    for m, fn in modes.items():
        if m.startswith('bare'): return fn.wrapped
        if m.startswith('trainer'): return fn.__defaults__[0].model
    raise SystemExit('the same-weights check needs a bare_* or trainer_* mode beside the ref_* ones')


def timed(fn, dev):
    "Seconds of one call, and its peak memory above what was allocated before it (CUDA; None on the CPU)."
    import torch
    if dev.type != 'cuda':
        t = time.perf_counter(); fn(); return time.perf_counter() - t, None
    torch.cuda.synchronize(dev)
    base = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record(); fn(); b.record()
    torch.cuda.synchronize(dev)
    return a.elapsed_time(b) / 1e3, (torch.cuda.max_memory_allocated(dev) - base) / 2**30


def count_flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc: fn()
    return float(fc.get_total_flops())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='sudoku_attn', help='a published recipe: sudoku_attn, sudoku_mlp_t, maze, arc1')
    p.add_argument('--small', action='store_true', help='hidden 64, T=2, n=2 (a CPU smoke run of the script itself)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='float32')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--warmup', type=int, default=3, help='untimed steps per mode (compilation happens here)')
    p.add_argument('--steps', type=int, default=10, help='timed rounds (one step of every mode per round)')
    p.add_argument('--modes', default=','.join(m for m in MODES if not m.startswith('ref')),
                   help=f'comma-separated, from {", ".join(MODES)} (ref_* need --reference-dir)')
    p.add_argument('--reference-dir', default=None, help='a checkout of the authors\' repository (adds ref_eager,ref_compiled)')
    p.add_argument('--peak-tflops', type=float, default=None)
    p.add_argument('--profile', default=None, help='a mode: print the profiler\'s top kernels for 3 of its steps')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--out', default=None, help='also write the report to this file')
    args = p.parse_args()
    args.modes = [m for m in args.modes.split(',') if m]
    if args.reference_dir and not any(m.startswith('ref') for m in args.modes): args.modes += ['ref_eager', 'ref_compiled']
    bad = [m for m in args.modes if m not in MODES]
    if bad: p.error(f'--modes: unknown {bad}; choose from {MODES}')
    if any(m.startswith('ref') for m in args.modes) and not args.reference_dir: p.error('ref_* modes need --reference-dir')
    import torch
    if args.threads: torch.set_num_threads(args.threads)
    from trm_course.core import get_device
    dev = get_device(args.device)
    lines = []
    def say(s=''):
        print(s, flush=True); lines.append(s)
    say(f'# bench_step.py  {time.strftime("%Y-%m-%d %H:%M %Z")}  torch {torch.__version__}  device {dev}'
        + (f' ({torch.cuda.get_device_name(dev)})' if dev.type == 'cuda' else '') + f'  dtype {args.dtype}')
    say(f'# host: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, '
        f'load average {os.getloadavg()[0]:.1f} at start')
    say(f'# command: python benchmarks/bench_step.py {" ".join(sys.argv[1:])}')
    out, status = {}, 'complete'
    try:
        with tempfile.TemporaryDirectory() as tmp:
            modes, cfg, batch = build_modes(args, dev, Path(tmp))
            say(f'# config {args.config}{" (--small)" if args.small else ""}: hidden {cfg.hidden_size}, layers {cfg.layers}, '
                f'T={cfg.T}, n={cfg.n}, {"mlp_t" if cfg.mlp_t else "attention"}, seq {cfg.seq_len}+{cfg.prefix}, '
                f'batch {args.batch}, forward dtype {cfg.forward_dtype}')
            if any(m.startswith('ref') for m in modes):       # same weights, same batch -> the same first-step loss
                import torch
                ours = first_model(modes)
                with torch.no_grad():
                    a = float(ours(ours.initial_carry(batch), batch, training=True)[1])
                    ref = next(v for k, v in modes.items() if k.startswith('ref')).head
                    with torch.device(dev): c = ref.initial_carry(batch)
                    b = float(ref(return_keys=[], carry=c, batch=batch)[1])
                say(f'# same weights: first-step loss, course {a:.6g}, authors {b:.6g} (relative difference {abs(a - b) / abs(b):.1e})')
            res = {m: {'times': [], 'peaks': [], 'warm': 0.0} for m in modes}
            for m, fn in modes.items():                       # warm-up (and compilation), one mode after another
                c0 = dynamo_counts(); t = time.perf_counter()
                for _ in range(args.warmup): timed(fn, dev)
                res[m]['warm'] = time.perf_counter() - t
                res[m]['warm_counts'] = {k: v - c0.get(k, 0) for k, v in dynamo_counts().items()}
                res[m]['after'] = {k: 0 for k in c0}
            for _ in range(args.steps):                        # timed rounds: every mode once per round
                for m, fn in modes.items():
                    c0 = dynamo_counts()
                    s, pk = timed(fn, dev)
                    res[m]['times'].append(s); res[m]['peaks'].append(pk)
                    for k, v in dynamo_counts().items(): res[m]['after'][k] += v - c0.get(k, 0)
            flops = count_flops(modes[next(m for m in modes if m in ('bare_eager', 'trainer_eager'))]) \
                if any(m in modes for m in ('bare_eager', 'trainer_eager')) else None
            peak, peak_note = peak_tflops(args, dev)
            say('# FLOPs of one step (forward + backward, FlopCounterMode on an eager step): '
                + (f'{flops / 1e9:.1f} GFLOP, {flops / args.batch / 1e9:.2f} GFLOP per example' if flops else 'not counted'))
            say(f'# MFU peak: {peak_note}')
            say()
            base = statistics.median(res['bare_compiled_net']['times']) if 'bare_compiled_net' in res else None
            say(f'{"mode":20s} {"step ms":>8s} {"min ms":>8s} {"x bare_c":>8s} {"peak GiB":>8s} {"warm-up s":>9s} '
                f'{"graphs":>6s} {"breaks":>6s} {"recomp":>6s} {"after warm-up":>14s} {"MFU":>6s}')
            for m, r in res.items():
                med = statistics.median(r['times'])
                pk = max(r['peaks']) if r['peaks'][0] is not None else None
                w, a = r['warm_counts'], r['after']
                mfu = flops / med / (peak * 1e12) if (flops and peak) else None
                say(f'{m:20s} {med * 1e3:8.1f} {min(r["times"]) * 1e3:8.1f} {med / base if base else float("nan"):8.2f} '
                    f'{pk if pk is not None else float("nan"):8.2f} {r["warm"]:9.1f} {w.get("graphs", 0):6d} '
                    f'{w.get("breaks", 0):6d} {w.get("recompiles", 0):6d} '
                    f'{"g%d b%d r%d" % (a.get("graphs", 0), a.get("breaks", 0), a.get("recompiles", 0)):>14s} '
                    f'{f"{mfu:.1%}" if mfu is not None else "-":>6s}')
                out[m] = dict(step_s=med, min_s=min(r['times']), peak_gib=pk, warmup_s=r['warm'], warm_counts=w, after=a, mfu=mfu)
            say()
            say('step ms = median over the timed rounds; x bare_c = against bare_compiled_net (the course\'s own compiled '
                'model); peak GiB = the step\'s peak above the memory resident before it; graphs/breaks/recomp = dynamo '
                'counters during warm-up; "after warm-up" = the same counters during the timed steps (should be g0 b0 r0).')
            say(f'# load average at end {os.getloadavg()[0]:.1f}')
            if args.profile:
                if args.profile not in modes: p.error(f'--profile {args.profile}: not among the measured modes')
                from torch.profiler import ProfilerActivity, profile
                acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
                with profile(activities=acts) as prof:
                    for _ in range(3): timed(modes[args.profile], dev)
                key = 'cuda_time_total' if dev.type == 'cuda' else 'self_cpu_time_total'
                say(f'\n# profiler, 3 steps of {args.profile}, top kernels by {key}')
                say(prof.key_averages().table(sort_by=key, row_limit=20))
    except BaseException as e:   # a failed or interrupted run still leaves its file, marked, with what it measured
        status = f'FAILED: {type(e).__name__}: {str(e)[:300]}'
        say(f'# {status}'); say(traceback.format_exc())
        raise
    finally:
        if args.out:
            if status != 'complete': lines.insert(0, f'# INCOMPLETE RUN ({status}); the numbers below are partial')
            Path(args.out).write_text('\n'.join(lines) + '\n')
            Path(args.out).with_suffix('.json').write_text(
                json.dumps({'args': vars(args), 'status': status, 'results': out}, indent=1, default=str) + '\n')


if __name__ == '__main__':
    main()
