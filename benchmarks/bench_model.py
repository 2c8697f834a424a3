#!/usr/bin/env python
"""Cost of one TRM supervision step (forward + backward + optimizer) for the published configurations.

    python benchmarks/bench_model.py                       # CPU, float32, CPU-friendly batch sizes (< ~5 min)
    python benchmarks/bench_model.py --device cuda --dtype bfloat16 --compile --batch 768 --steps 10

For each published model (trm_course.recipes.published_model) it reports, per supervision step:
time (median of the timed steps), activation memory saved for backward (exact, load-independent), peak memory
(CUDA: max_memory_allocated; CPU: peak RSS of a fresh subprocess), and compares one call of TRM's 2-layer `net`
with a plain nn.TransformerEncoder of the same width (2 post-norm layers, d, heads, FFN width, forward+backward).
Finally a torch.profiler summary of one supervision step (where the time goes).
Each config runs in its own subprocess so that peak-RSS numbers do not mix.
"""
import argparse, json, os, platform, resource, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F

from trm_course.network import count_parameters
from trm_course.recipes import published_model
from trm_course.recursion import TRM
from trm_course.layers import swiglu_width

CPU_BATCH = {'sudoku_mlp_t': 4, 'sudoku_attn': 4, 'maze': 1, 'arc1': 1}   # arc2: the same model as arc1


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def make(name, args, device):
    cfg = published_model(name, forward_dtype=args.dtype, num_puzzle_identifiers=16)
    model = TRM(cfg).to(device)
    model.check_inputs = False
    if args.compile: model.net = torch.compile(model.net)
    return cfg, model


def batch_for(cfg, B, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(1, cfg.vocab_size, (B, cfg.seq_len), generator=g)
    labels = torch.randint(1, cfg.vocab_size, (B, cfg.seq_len), generator=g)
    pid = torch.randint(0, cfg.num_puzzle_identifiers, (B,), generator=g)
    return inputs.to(device), labels.to(device), pid.to(device)


def one_step(model, opt, carry, inputs, labels, pid):
    y, z, logits, q_halt, _ = model(*carry, inputs, pid)
    loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten().long()) + \
        0.5 * F.binary_cross_entropy_with_logits(q_halt, torch.zeros_like(q_halt))
    loss.backward()
    opt.step(); opt.zero_grad(set_to_none=True)
    return y, z


def saved_bytes(model, carry, inputs, pid):
    seen = {}
    def pack(t):
        seen[(t.data_ptr(), t.dtype, tuple(t.shape))] = t.numel() * t.element_size(); return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(*carry, inputs, pid)
    del out
    return sum(seen.values())


def bench_config(name, args):
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg, model = make(name, args, device)
    B = args.batch or CPU_BATCH[name]
    inputs, labels, pid = batch_for(cfg, B, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    model.train()
    carry = model.initial_carry(B, device)
    act = saved_bytes(model, carry, inputs, pid)
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    for _ in range(args.warmup): carry = one_step(model, opt, carry, inputs, labels, pid)
    times = []
    for _ in range(args.steps):
        sync(device); t = time.perf_counter()
        carry = one_step(model, opt, carry, inputs, labels, pid)
        sync(device); times.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated() if device.type == 'cuda' else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    # one call of the 2-layer net vs a plain nn.TransformerEncoder of the same width (forward + backward)
    d, L = cfg.hidden_size, cfg.total_len
    h = torch.randn(B, L, d, device=device, dtype=cfg.dtype, requires_grad=True)
    inj = torch.randn(B, L, d, device=device, dtype=cfg.dtype)
    layer = torch.nn.TransformerEncoderLayer(d, cfg.num_heads, dim_feedforward=swiglu_width(d, cfg.expansion),
                                             dropout=0.0, batch_first=True, norm_first=False)
    plain = torch.nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False).to(device, cfg.dtype)
    if args.compile: plain = torch.compile(plain)
    cs = model.cos_sin()
    def t_call(fn, reps=None):
        reps = max(2, args.steps) if reps is None else reps
        fn().float().sum().backward()   # warm-up
        ts = []
        for _ in range(reps):
            sync(device); t = time.perf_counter(); fn().float().sum().backward(); sync(device)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)
    t_net = t_call(lambda: model.net(h, inj, cs))
    t_plain = t_call(lambda: plain(h + inj))
    return dict(config=name, batch=B, params=count_parameters(model), T=cfg.T, n=cfg.n, mlp_t=cfg.mlp_t,
                seq=cfg.total_len, net_calls_per_step=cfg.T * (cfg.n + 1),
                step_s=statistics.median(times), step_s_all=times, activation_bytes=act, peak_bytes=peak,
                net_call_s=t_net, plain_encoder_call_s=t_plain,
                plain_encoder_params=sum(p.numel() for p in plain.parameters()),
                net_params=sum(p.numel() for p in model.net.parameters()))


def profile(name, args, rows=12):
    from torch.profiler import profile as tprofile, ProfilerActivity
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg, model = make(name, args, device)
    B = args.batch or min(2, CPU_BATCH[name])
    inputs, labels, pid = batch_for(cfg, B, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    carry = model.initial_carry(B, device)
    carry = one_step(model, opt, carry, inputs, labels, pid)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with tprofile(activities=acts) as prof:
        carry = one_step(model, opt, carry, inputs, labels, pid); sync(device)
    key = 'self_cuda_time_total' if device.type == 'cuda' else 'self_cpu_time_total'
    return prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=40)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'])
    p.add_argument('--compile', action='store_true', help='torch.compile the 2-layer net (and the baseline)')
    p.add_argument('--batch', type=int, default=None, help=f'batch size for every config (default CPU sizes {CPU_BATCH})')
    p.add_argument('--steps', type=int, default=1, help='timed supervision steps per config')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--configs', default=','.join(CPU_BATCH))
    p.add_argument('--profile-config', default='sudoku_attn')
    p.add_argument('--out', default=None, help='also write the report to this file (atomically)')
    p.add_argument('--_one', default=None, help=argparse.SUPPRESS)
    p.add_argument('--_profile', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    if args._one:
        print(json.dumps(bench_config(args._one, args))); return
    if args._profile:
        print(profile(args.profile_config, args)); return

    t0 = time.time()
    base = [sys.executable, __file__, '--device', args.device, '--dtype', args.dtype, '--steps', str(args.steps),
            '--warmup', str(args.warmup)] + (['--compile'] if args.compile else []) + \
           (['--batch', str(args.batch)] if args.batch else []) + (['--threads', str(args.threads)] if args.threads else [])
    lines = [f'# bench_model.py  {time.strftime("%Y-%m-%d %H:%M")}  torch {torch.__version__}  device {args.device}  '
             f'dtype {args.dtype}  compile {args.compile}',
             f'# host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads '
             f'{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} (times are noisy on a shared machine)',
             '# optimizer: torch AdamW on the dense parameters (puzzle table not updated); loss: CE + 0.5 BCE',
             '', f'{"config":13s} {"batch":>5s} {"params":>10s} {"calls":>5s} {"step s":>8s} {"s/sample":>8s} '
             f'{"act MiB":>8s} {"peak MiB":>8s} {"net ms":>8s} {"plain ms":>8s}']
    results = []
    for name in args.configs.split(','):
        out = subprocess.run(base + ['--_one', name], capture_output=True, text=True)
        if out.returncode: raise SystemExit(f'{name} failed:\n{out.stderr[-3000:]}')
        r = json.loads(out.stdout.strip().splitlines()[-1]); results.append(r)
        lines.append(f'{name:13s} {r["batch"]:5d} {r["params"]:10,d} {r["net_calls_per_step"]:5d} {r["step_s"]:8.3f} '
                     f'{r["step_s"] / r["batch"]:8.3f} {r["activation_bytes"] / 2**20:8.1f} {r["peak_bytes"] / 2**20:8.1f} '
                     f'{1e3 * r["net_call_s"]:8.1f} {1e3 * r["plain_encoder_call_s"]:8.1f}')
        print(lines[-1], flush=True)
    lines += ['', 'calls = net calls per supervision step, T*(n+1) (the last n+1 with gradient); act = bytes saved for backward;',
              'net ms / plain ms = one forward+backward of TRM\'s 2-layer net vs nn.TransformerEncoder (2 post-norm layers,',
              'same d, heads, FFN width as the SwiGLU inner width, ReLU FFN, LayerNorm with weights, biases) on the same input.']
    for r in results:
        lines.append(f'{r["config"]:13s}: 2-layer net {r["net_params"]:,} parameters vs plain encoder {r["plain_encoder_params"]:,} '
                     f'(x{r["net_params"] / r["plain_encoder_params"]:.2f}); net call time x{r["net_call_s"] / r["plain_encoder_call_s"]:.2f}')
    lines.append('(SwiGLU has 3 matrices where the ReLU FFN has 2; TRM has no biases or norm weights; mlp_t rows compare a token MLP with attention)')
    by = {r['config']: r for r in results}
    if 'sudoku_mlp_t' in by and 'sudoku_attn' in by:
        a, m = by['sudoku_attn'], by['sudoku_mlp_t']
        lines.append(f'Sudoku mlp_t vs attention: step time x{m["step_s"] / a["step_s"]:.2f}, '
                     f'activations x{m["activation_bytes"] / a["activation_bytes"]:.2f}, params x{m["params"] / a["params"]:.2f}')
    out = subprocess.run(base + ['--_profile', '--profile-config', args.profile_config], capture_output=True, text=True)
    pb = args.batch or min(2, CPU_BATCH[args.profile_config])
    lines += ['', f'## torch.profiler: one supervision step of {args.profile_config}, batch {pb} (top ops by self time)',
              out.stdout if out.returncode == 0 else out.stderr[-2000:]]
    lines.append(f'total benchmark time {time.time() - t0:.0f} s')
    text = '\n'.join(lines)
    print('\n'.join(lines[-(len(lines) - 5 - len(results)):]))
    if args.out:
        from trm_course.core import atomic_write
        with atomic_write(args.out, 'w') as f: f.write(text + '\n')


if __name__ == '__main__':
    main()
