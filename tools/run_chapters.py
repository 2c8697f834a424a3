#!/usr/bin/env python
"""Run every chapter as a learner would, and print one line per chapter.

    python tools/run_chapters.py [--device cpu|cuda|mps] [--mode quick|full] [--jobs N] [--only 03,17] [--keep DIR]

Each chapter runs top to bottom in a fresh Jupyter kernel, in an empty temporary folder that holds nothing but a copy
of the notebook, and imports `trm_course` from wherever the Python running this script has it installed. Run it with
the interpreter of an environment where the *built wheel* is installed (`pip install dist/trm_course-*.whl nbclient
ipykernel`), not the editable checkout, to check what `pip install trm-course` and Colab users get: by default the
script refuses to run when `trm_course` is imported from this repository (`--allow-checkout` runs anyway).

Unlike the tests (nbval), it runs *every* cell, as a learner does, including those marked `NBVAL_SKIP`; those are
guarded so they do nothing without a GPU and `TRM_MODE=full` (and the guarded export cell does nothing outside the
repository). The environment of each kernel: `TRM_DEVICE` (the device asked for), `TRM_MODE`, `TRM_FIGURES` (a folder
inside the chapter's temporary folder) and `MPLBACKEND=Agg`; `TRM_CACHE` is inherited, so point it at an empty folder
to also check that every chapter builds the data it needs.

Exit status: 0 when every chapter ran without an error, 1 otherwise (2 for bad arguments).
"""
from __future__ import annotations

import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def chapters(nbs: Path, only: list[str] | None) -> list[Path]:
    "The chapter notebooks (`NN_name.ipynb`) in order, optionally only those whose number or name is in `only`."
    found = sorted(p for p in nbs.glob('[0-9][0-9]*_*.ipynb'))
    if not only: return found
    pick = [p for p in found if any(p.stem == o or p.stem.split('_')[0] == o or p.name == o for o in only)]
    missing = [o for o in only if not any(p.stem == o or p.stem.split('_')[0] == o or p.name == o for p in found)]
    if missing: raise SystemExit(f'--only: no chapter {", ".join(missing)} in {nbs}')
    return pick


def run_one(nb_path: Path, device: str, mode: str, timeout: int, keep: Path | None, threads: int | None) -> dict:
    "Execute one chapter in a fresh kernel in its own empty folder; never raises."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    work = Path(tempfile.mkdtemp(prefix=f'trm-chapter-{nb_path.stem}-'))
    nb_file = work / nb_path.name
    shutil.copy(nb_path, nb_file)
    nb = nbformat.read(nb_file, as_version=4)
    env = {'TRM_DEVICE': device, 'TRM_MODE': mode, 'TRM_FIGURES': str(work / 'figures'), 'MPLBACKEND': 'Agg',
           'PYTHONDONTWRITEBYTECODE': '1'}
    if threads: env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    status, detail, t0 = 'ok', '', time.time()
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(work)}})
    try:
        client.execute(env={**os.environ, **env})      # the kernel's environment (passed on to start_kernel)
    except CellTimeoutError as e:
        status, detail = 'TIMEOUT', str(e).strip().splitlines()[-1][:200]
    except CellExecutionError as e:
        status = 'FAIL'
        detail = f'{getattr(e, "ename", "")}: {getattr(e, "evalue", "")}'.strip(': ') or str(e).strip().splitlines()[-1]
        detail = re.sub(r'\x1b\[[0-9;]*m', '', detail).replace('\n', ' ')[:300]
    except DeadKernelError as e:
        status, detail = 'FAIL', f'kernel died: {e}'[:300]
    except Exception as e:               # a broken notebook file, a kernel that cannot start, ...
        status, detail = 'FAIL', f'{type(e).__name__}: {e}'[:300]
    seconds = time.time() - t0
    failing_cell = next((i for i, c in enumerate(nb.cells) if c.cell_type == 'code'
                         and any(o.get('output_type') == 'error' for o in c.get('outputs', []))), None)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / nb_path.name)
    shutil.rmtree(work, ignore_errors=True)
    return {'chapter': nb_path.stem, 'status': status, 'seconds': round(seconds, 1), 'cell': failing_cell, 'detail': detail}


def where_is_trm_course() -> Path:
    "The folder `trm_course` is imported from, by this interpreter (which the kernels also use)."
    out = subprocess.run([sys.executable, '-c', 'import trm_course, pathlib; print(pathlib.Path(trm_course.__file__).resolve().parent)'],
                         capture_output=True, text=True, cwd=tempfile.gettempdir())
    if out.returncode:
        raise SystemExit(f'{sys.executable} cannot import trm_course: install the package first\n{out.stderr.strip()}')
    return Path(out.stdout.strip())


def format_table(rows: list[dict]) -> str:
    w = max([len('chapter')] + [len(r['chapter']) for r in rows])
    lines = [f"{'chapter':<{w}}  {'status':<7}  {'seconds':>7}  detail", f"{'-' * w}  {'-' * 7}  {'-' * 7}  ------"]
    for r in rows:
        det = '' if r['status'] == 'ok' else (f"cell {r['cell']}: " if r['cell'] is not None else '') + r['detail']
        lines.append(f"{r['chapter']:<{w}}  {r['status']:<7}  {r['seconds']:7.1f}  {det}")
    ok = sum(r['status'] == 'ok' for r in rows)
    lines.append(f'{ok} passed, {len(rows) - ok} failed')
    return '\n'.join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n', 3)[3])
    p.add_argument('--device', default='cpu', help="TRM_DEVICE for every chapter: cpu, cuda, cuda:1, mps (default cpu)")
    p.add_argument('--mode', default='quick', choices=['quick', 'full'], help='TRM_MODE (default quick)')
    p.add_argument('--jobs', type=int, default=1, help='chapters run at once, each in its own kernel (default 1)')
    p.add_argument('--threads', type=int, default=None, help='OMP/MKL threads per kernel (default: torch decides)')
    p.add_argument('--timeout', type=int, default=1800, help='seconds one cell may take (default 1800)')
    p.add_argument('--only', default=None, help='comma-separated chapter numbers or names, e.g. 03,17_sudoku')
    p.add_argument('--nbs', default=str(ROOT / 'nbs'), help='folder with the chapter notebooks (default: this repo)')
    p.add_argument('--keep', default=None, help='save the executed notebooks (with outputs) into this folder')
    p.add_argument('--json', default=None, help='also write the table as JSON to this file')
    p.add_argument('--allow-checkout', action='store_true', help='run even if trm_course is imported from this repository')
    args = p.parse_args(argv)
    if args.jobs < 1: p.error(f'--jobs must be at least 1, got {args.jobs}')
    if args.device.split(':')[0] not in ('cpu', 'cuda', 'mps'): p.error(f'--device {args.device!r}: use cpu, cuda[:N] or mps')
    nbs = Path(args.nbs)
    if not nbs.is_dir(): p.error(f'--nbs {nbs}: not a folder')
    todo = chapters(nbs, args.only.split(',') if args.only else None)
    if not todo: p.error(f'no chapter notebooks (NN_name.ipynb) in {nbs}')
    pkg = where_is_trm_course()
    from_checkout = pkg == (ROOT / 'trm_course').resolve()
    print(f'trm_course from {pkg}{" (this checkout)" if from_checkout else ""}; python {sys.executable}')
    print(f'{len(todo)} chapters, device {args.device}, {args.mode} mode, {args.jobs} at a time', flush=True)
    if from_checkout and not args.allow_checkout:
        print('refusing: trm_course comes from this repository, not an installed wheel (use --allow-checkout to run anyway)',
              file=sys.stderr)
        return 2
    keep = Path(args.keep) if args.keep else None
    t0, rows = time.time(), []

    def one(nb):
        r = run_one(nb, args.device, args.mode, args.timeout, keep, args.threads)
        print(f"  {r['chapter']}: {r['status']} in {r['seconds']:.0f}s", flush=True)
        return r

    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        rows = list(ex.map(one, todo))
    print(format_table(rows))
    print(f'all chapters: {time.time() - t0:.0f}s wall')
    if args.json:
        Path(args.json).write_text(json.dumps({'device': args.device, 'mode': args.mode, 'package': str(pkg),
                                               'rows': rows}, indent=1))
    return 0 if all(r['status'] == 'ok' for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
