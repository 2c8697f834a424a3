"""The quickstart on a busy machine: README command 1's job with CPU-heavy processes running beside it.

    python benchmarks/bench_quickstart_busy.py [--hogs 2] [--out benchmarks/results/quickstart_busy.txt]

Starts `--hogs` processes that each keep one core busy with float arithmetic (NumPy matrix products, one thread each),
then runs `trm-course quickstart` (from the same environment as this Python) into a temporary folder, and records
what it printed, its exit status, the wall and CPU time, and the load average before, during and after. The
quickstart is bounded by training steps, so the accuracy must be the course's (>= 99% of 500 held-out puzzles)
however slow the machine is; only the time grows. The hogs are stopped however the run ends.
"""
from __future__ import annotations

import argparse, datetime, os, platform, re, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

HOG = ("import os; os.environ['OMP_NUM_THREADS'] = '1'\n"
       "import numpy as np\n"
       "a = np.random.default_rng(0).standard_normal((256, 256))\n"
       "while True: a = np.tanh(a @ a.T / 256)\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--hogs', type=int, default=2, help='CPU-heavy processes beside the quickstart (default 2)')
    p.add_argument('--out', default=None, help='append the record to this file (default: print only)')
    p.add_argument('--steps', type=int, default=1000)
    args = p.parse_args(argv)
    cli = Path(sys.executable).with_name('trm-course')
    if not cli.exists(): raise SystemExit(f'{cli} not found: install the package into this environment first')
    work = Path(tempfile.mkdtemp(prefix='trm-busy-'))
    env = dict(os.environ, TRM_CACHE=str(work / 'cache'), MPLBACKEND='Agg')
    load0 = os.getloadavg()
    hogs = [subprocess.Popen([sys.executable, '-c', HOG]) for _ in range(args.hogs)]
    loads = []
    try:
        time.sleep(5)                                     # let the hogs reach full speed
        t0, r0 = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen([str(cli), 'quickstart', '--out', str(work / 'out'), '--steps', str(args.steps)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip('\n'))
            if len(loads) < 1 or time.time() - loads[-1][0] > 30: loads.append((time.time(), os.getloadavg()[0]))
        rc = proc.wait()
        wall = time.time() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        for h in hogs: h.kill()
        for h in hogs: h.wait()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)   # the quickstart's own CPU time (hogs are still running)
    result = next((l for l in reversed(lines) if l.startswith('quickstart')), '(no result line)')
    m = re.search(r'([\d.]+)% of (\d+) held-out', result)
    during = [l for _, l in loads]
    rec = '\n'.join([
        f'# {datetime.datetime.now().isoformat(timespec="seconds")}  {platform.node()}  {os.cpu_count()} cores  '
        f'python {platform.python_version()}',
        f'command: {" ".join([Path(sys.executable).name, *sys.argv])}  (trm-course quickstart --steps {args.steps}, '
        f'{args.hogs} CPU-heavy processes beside it)',
        f'load average: before {load0[0]:.2f}; during {min(during, default=0):.2f}-{max(during, default=0):.2f}; '
        f'after {os.getloadavg()[0]:.2f}',
        f'exit status {rc}; wall {wall:.0f} s; quickstart CPU time {cpu:.0f} s',
        f'result: {result}',
        f'exact accuracy: {m.group(1) + "%" if m else "not printed"}', ''])
    print(rec)
    if args.out:
        with open(args.out, 'a') as f: f.write(rec + '\n')
    shutil.rmtree(work, ignore_errors=True)
    return 0 if rc == 0 and m and float(m.group(1)) >= 99.0 else 1


if __name__ == '__main__':
    sys.exit(main())
