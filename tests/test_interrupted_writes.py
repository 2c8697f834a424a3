"""Interrupted writes leave nothing half-written.

`trm-course build-data sudoku4` and a short `trm-course train sudoku4_cpu` run in a subprocess and are killed with
SIGKILL at seeded random moments. Afterwards:
  * the dataset folder is either absent or complete, and no reader accepts a partial one (the hidden temporary folder
    a killed build leaves is refused by the readers, or is itself complete and identical to a full build);
  * every checkpoint file is complete, and no reader accepts a partial one;
  * a rerun rebuilds (build-data) or resumes (train --resume auto) and finishes, and the leftovers of the killed
    process are cleaned up;
  * two builders of the same folder at once leave one complete dataset, identical to a single build.

Iterations per test: $TRM_KILL_ITERATIONS (default 2, for CI). Locally: TRM_KILL_ITERATIONS=20 pytest ... -n 0.
POSIX only (SIGKILL).
"""
import os, random, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.name != 'posix', reason='needs SIGKILL')

from trm_course.dataset import DatasetFormatError, FIELDS, read_identifiers, read_split

N = int(os.environ.get('TRM_KILL_ITERATIONS', '2'))
BUILD = ['build-data', 'sudoku4', '--n-train', '40', '--n-test', '20', '--n-aug', '2', '--seed', '0']
CLI = 'import sys; from trm_course.cli import main; sys.exit(main(sys.argv[1:]))'


def _env(tmp: Path) -> dict:
    return dict(os.environ, OMP_NUM_THREADS='1', TRM_CACHE=str(tmp / 'cache'), TRM_FIGURES=str(tmp / 'figures'),
                MPLBACKEND='Agg')


def _start(args, tmp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-c', CLI, *args], cwd=tmp, env=_env(tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run(args, tmp: Path, timeout: float = 300) -> str:
    p = _start(args, tmp)
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, f'{args} failed ({p.returncode}):\n{out[-3000:]}'
    return out


def _kill_when(p: subprocess.Popen, ready, delay: float, timeout: float = 120) -> bool:
    "Wait until `ready()` (or the process ends), sleep `delay`, SIGKILL. True if the kill hit a running process."
    t0 = time.time()
    while p.poll() is None and not ready() and time.time() - t0 < timeout: time.sleep(0.005)
    time.sleep(delay)
    alive = p.poll() is None
    if alive: os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    return alive


def _snapshot(root: Path) -> dict:
    "Everything a reader sees in a dataset folder (raises DatasetFormatError if something is missing or broken)."
    out = {'identifiers': read_identifiers(root)}
    for s in ('train', 'test'):
        sp = read_split(root, s, mmap=False)
        out[s] = {f: np.asarray(getattr(sp, f)).copy() for f in FIELDS}
    return out


def _same(a: dict, b: dict) -> bool:
    return a['identifiers'] == b['identifiers'] and all(
        np.array_equal(a[s][f], b[s][f]) for s in ('train', 'test') for f in FIELDS)


@pytest.fixture(scope='module')
def reference_build(tmp_path_factory):
    "One uninterrupted build: what every complete build with the same seed must equal."
    tmp = tmp_path_factory.mktemp('ref')
    _run(BUILD + ['--out', str(tmp / 'data')], tmp)
    return _snapshot(tmp / 'data'), tmp / 'data'


def _leftovers(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f'.{name}.')]


@pytest.mark.parametrize('it', range(N))
def test_killed_build_data(tmp_path, reference_build, it):
    ref, _ = reference_build
    rng = random.Random(1000 + it)
    out = tmp_path / 'data'
    if it % 2: _run(BUILD + ['--out', str(out)], tmp_path)           # every other time: a rebuild over a complete folder
    p = _start(BUILD + ['--out', str(out)], tmp_path)
    ready = lambda: bool(_leftovers(tmp_path, 'data'))               # the temporary folder exists: writing has begun
    killed = _kill_when(p, ready, rng.uniform(0, 0.02))
    left = [q.name.rsplit('.', 1)[-1] for q in _leftovers(tmp_path, 'data')]
    print(f'build {it}: killed={killed} folder={"present" if out.exists() else "absent"} leftovers={left}')
    # the folder: absent (killed before the first swap) or complete and equal to a full build
    if out.exists(): assert _same(_snapshot(out), ref)
    else: assert it % 2 == 0, 'a rebuild removed the old complete folder and left nothing'
    # the hidden leftovers: a reader refuses them, or they are complete (killed just before the swap)
    for tmpdir in _leftovers(tmp_path, 'data'):
        if tmpdir.name.endswith('.tmp'):
            try: snap = _snapshot(tmpdir)
            except DatasetFormatError: continue
            assert _same(snap, ref), f'{tmpdir}: a reader accepted a partial dataset'
    # a rerun rebuilds, and removes what the killed process left
    _run(BUILD + ['--out', str(out)], tmp_path)
    assert _same(_snapshot(out), ref)
    assert not _leftovers(tmp_path, 'data'), f'left behind: {_leftovers(tmp_path, "data")}'


@pytest.mark.parametrize('it', range(N))
def test_two_builders_at_once(tmp_path, reference_build, it):
    ref, _ = reference_build
    out = tmp_path / 'data'
    ps = [_start(BUILD + ['--out', str(out)], tmp_path) for _ in range(2)]
    if it % 2:   # one of them killed half-way
        killed = _kill_when(ps[1], lambda: bool(_leftovers(tmp_path, 'data')), random.Random(it).uniform(0, 0.02))
        print(f'two builders {it}: second killed={killed}')
    outs = [p.communicate(timeout=300)[0] for p in ps]
    assert ps[0].returncode == 0, outs[0][-2000:]
    if not it % 2: assert ps[1].returncode == 0, outs[1][-2000:]
    assert _same(_snapshot(out), ref)
    left = [p for p in _leftovers(tmp_path, 'data') if not (it % 2 and str(ps[1].pid) in p.name)]
    assert not left, f'left behind: {left}'


@pytest.fixture(scope='module')
def train_data(reference_build):
    return reference_build[1]


def _train(data: Path, run: Path, steps: int = 30) -> list[str]:
    return ['train', 'sudoku4_cpu', f'data={data}', f'out_dir={run}', f'max_steps={steps}', 'checkpoint_every=5',
            'eval_every=15', 'eval_max_examples=20', 'global_batch_size=16', 'progress=false', '--resume', 'auto']


@pytest.mark.parametrize('it', range(N))
def test_killed_training_resumes(tmp_path, train_data, it):
    from trm_course.checkpoint import CheckpointError, read_checkpoint
    from trm_course.train import read_log
    rng = random.Random(2000 + it)
    run = tmp_path / 'run'
    p = _start(_train(train_data, run), tmp_path)
    first = lambda: (run / 'checkpoints').exists() and any((run / 'checkpoints').iterdir())
    killed = _kill_when(p, first, rng.uniform(0, 2.0))
    ckdir = run / 'checkpoints'
    steps = []
    for f in sorted(ckdir.iterdir()) if ckdir.exists() else []:
        try: state = read_checkpoint(f)
        except CheckpointError:
            assert f.name.startswith('.'), f'{f}: a checkpoint under its final name is not readable'
            continue
        if f.name.startswith('step_'): steps.append(state['step']); assert f.name == f'step_{state["step"]:08d}.pt'
    tmps = [f.name for f in ckdir.iterdir() if f.name.startswith('.')] if ckdir.exists() else []
    print(f'train {it}: killed={killed} complete checkpoints at steps {steps} temporary files {len(tmps)}')
    # a rerun resumes from the latest complete checkpoint and finishes
    out = _run(_train(train_data, run), tmp_path)
    if killed and steps: assert f'at step {max(steps)}' in out, out[-2000:]
    final = read_checkpoint(ckdir / 'step_00000030.pt')
    assert final['step'] == 30
    assert not [f for f in ckdir.iterdir() if f.name.startswith('.')], 'temporary checkpoint files left behind'
    log = read_log(run / 'log.jsonl')
    assert log and log[-1]['step'] == 30
