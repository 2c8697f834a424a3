"""Interrupting a training run with a real signal, and running again into the same folder.

`trm-course train` runs in a subprocess on a tiny 4x4 Sudoku set; once it has logged a few steps it gets SIGINT (what
Ctrl-C sends) or SIGTERM (a pre-empted job). It must finish the step, write that step's checkpoint atomically, print ONE
line `interrupted at step N; resume with: <the command> --resume auto`, and exit with 128 + the signal (130 for SIGINT,
143 for SIGTERM), with no traceback. The printed command then continues from that checkpoint. A second SIGINT stops at
once and leaves only complete checkpoints. A rerun without --resume/--overwrite is refused and changes nothing.
In the Python API `Trainer(..., if_exists=...)` decides, and `fit` raises `TrainingInterrupted` after saving.
POSIX only (signals to a subprocess).
"""
import json, os, re, shlex, signal, subprocess, sys, time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != 'posix', reason='sends POSIX signals to a subprocess')

from trm_course.checkpoint import list_checkpoints, read_checkpoint
from trm_course.cli import main
from trm_course.train import read_log

CLI = 'import sys; from trm_course.cli import main; sys.exit(main(sys.argv[1:]))'
LINE = re.compile(r'^interrupted at step (\d+); resume with: (trm-course train .*)$')


def _env(tmp: Path) -> dict:
    return dict(os.environ, OMP_NUM_THREADS='1', TRM_CACHE=str(tmp / 'cache'), TRM_FIGURES=str(tmp / 'figures'),
                MPLBACKEND='Agg')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('interrupt_data')
    assert main(['build-data', 'sudoku4', '--out', str(tmp / 'data'), '--n-train', '40', '--n-test', '16', '--n-aug', '1']) == 0
    return tmp / 'data'


def _train_args(data: Path, run: Path, *extra) -> list[str]:
    # a long run (it is always interrupted), evaluating and checkpointing now and then
    return ['train', 'sudoku4_cpu', f'data={data}', f'out_dir={run}', 'max_steps=100000', 'eval_every=25',
            'eval_max_examples=16', 'global_batch_size=16', 'log_every=2', 'progress=false', *extra]


def _sigint_as_in_a_terminal():
    """Give the child SIGINT at its default, as a terminal starts a command. A shell's background job (`cmd &`, nohup)
    inherits SIGINT *ignored*, and the trainer keeps an ignored SIGINT ignored on purpose (the user asked for that);
    so without this the tests below would pass or fail with the way the test run itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args, tmp: Path) -> subprocess.Popen:
    "Start the CLI with `args`; whoever starts one ends with `_reap` (in a `finally`): the runs never end on their own."
    return subprocess.Popen([sys.executable, '-c', CLI, *args], cwd=tmp, env=_env(tmp), preexec_fn=_sigint_as_in_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _reap(p: subprocess.Popen) -> None:
    "Kill the child if it still runs (a failed or timed-out test: max_steps=100000 would train on for hours) and reap it."
    if p.poll() is None: p.kill()
    p.wait(timeout=60)
    for f in (p.stdout, p.stderr):
        if f is not None: f.close()


@pytest.fixture
def sigint_default():
    "SIGINT raises KeyboardInterrupt in this process for the test (as in a terminal or a notebook), whatever it inherited."
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _logged_step(run: Path) -> int:
    try: recs = read_log(run / 'log.jsonl')
    except (FileNotFoundError, json.JSONDecodeError): return 0
    return max([r['step'] for r in recs if r['kind'] == 'train'], default=0)


def _signal_after(p: subprocess.Popen, run: Path, step: int, sig, timeout: float = 240) -> tuple[str, str]:
    """Wait until the run has logged `step` (it is in `fit`, past any earlier record), send `sig`, wait for the end. On
    every path (the run ended early, never got there, did not stop: a timeout, an interrupted test run) the child ends
    killed and reaped."""
    try:
        t0 = time.time()
        while p.poll() is None and _logged_step(run) < step and time.time() - t0 < timeout: time.sleep(0.02)
        assert p.poll() is None, f'the run ended before the signal:\n{p.communicate()[1][-3000:]}'
        p.send_signal(sig)
        return p.communicate(timeout=120)
    finally:
        _reap(p)


def _check_interrupted(out: str, err: str, run: Path, code: int, rc: int, name: str) -> tuple[int, str]:
    assert rc == code, f'exit status {rc}, expected {code}\n{err[-3000:]}'
    assert 'Traceback' not in out + err, err[-3000:]
    lines = [l for l in err.splitlines() if l.strip()]
    m = LINE.match(lines[-1])
    assert m, lines[-3:]
    assert sum(1 for l in lines if l.startswith('interrupted')) == 1, 'one line'
    step = int(m.group(1))
    cps = list_checkpoints(run)
    assert cps[-1].name == f'step_{step:08d}.pt', (step, [p.name for p in cps])
    state = read_checkpoint(cps[-1])                       # complete and readable
    assert state['step'] == step and state['ranks'][0]['carry'] is not None
    log = read_log(run / 'log.jsonl')
    assert log[-1]['kind'] == 'stop' and log[-1]['step'] == step and log[-1]['reason'] == f'interrupted by {name}'
    assert not [p for p in (run / 'checkpoints').iterdir() if p.name.endswith('.tmp')], 'no temporary file left'
    return step, m.group(2)


def test_sigint_then_resume_then_sigterm(data, tmp_path):
    run = tmp_path / 'run'
    p = _start(_train_args(data, run), tmp_path)
    out, err = _signal_after(p, run, 8, signal.SIGINT)
    step, cmd = _check_interrupted(out, err, run, 130, p.returncode, 'SIGINT')
    assert step >= 8
    argv = shlex.split(cmd)
    assert argv[:2] == ['trm-course', 'train'] and argv[-2:] == ['--resume', 'auto']
    assert argv[2:-2] == _train_args(data, run)[1:], 'the real command line, with --resume auto'
    # the printed command continues from that checkpoint; this time a SIGTERM (a pre-empted job) stops it
    p2 = _start(argv[1:], tmp_path)
    out2, err2 = _signal_after(p2, run, step + 6, signal.SIGTERM)
    assert f'resumed from {run / "checkpoints" / f"step_{step:08d}.pt"} at step {step}' in out2, out2[:2000]
    step2, cmd2 = _check_interrupted(out2, err2, run, 143, p2.returncode, 'SIGTERM')
    assert step2 > step and shlex.split(cmd2) == argv
    # one log, continued: train records at every log_every step up to the second stop, the first stop kept
    log = read_log(run / 'log.jsonl')
    train_steps = [r['step'] for r in log if r['kind'] == 'train']
    assert train_steps == list(range(2, train_steps[-1] + 1, 2)) and train_steps[-1] <= step2
    assert [r['step'] for r in log if r['kind'] == 'stop'] == [step, step2]


def test_second_sigint_stops_at_once_leaving_complete_files(data, tmp_path):
    run = tmp_path / 'run'
    p = _start(_train_args(data, run, 'checkpoint_every=2'), tmp_path)   # often in the middle of a checkpoint write
    try:
        t0 = time.time()
        while p.poll() is None and _logged_step(run) < 6 and time.time() - t0 < 240: time.sleep(0.02)
        assert p.poll() is None, f'the run ended before the signal:\n{p.communicate()[1][-3000:]}'
        p.send_signal(signal.SIGINT); time.sleep(0.002); p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        _reap(p)
    assert p.returncode == 130 and 'Traceback' not in out + err, err[-3000:]
    last = [l for l in err.splitlines() if l.strip()][-1]
    assert last.startswith(('interrupted at step', 'stopped at once')) and last.endswith('--resume auto'), last
    cps = list_checkpoints(run)
    assert cps and all(read_checkpoint(c)['step'] == int(c.stem[5:]) for c in cps)
    assert not [q for q in (run / 'checkpoints').iterdir() if q.name.endswith('.tmp')]
    # and the run resumes from the latest complete checkpoint (a few more steps, then done)
    latest = read_checkpoint(cps[-1])['step']
    args = _train_args(data, run)[:-1] + [f'max_steps={latest + 4}', 'progress=false', '--resume', 'auto']
    r = subprocess.run([sys.executable, '-c', CLI, *args], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and f'at step {latest}' in r.stdout, r.stderr[-3000:]


def test_rerun_without_resume_is_refused(data, tmp_path, capsys):
    run = tmp_path / 'run'
    args = ['train', 'sudoku4_cpu', f'data={data}', f'out_dir={run}', 'max_steps=6', 'eval_every=3',
            'eval_max_examples=16', 'global_batch_size=16', 'log_every=2', 'progress=false']
    assert main(args) == 0
    before = {q: q.read_bytes() for q in [run / 'log.jsonl', *list_checkpoints(run)]}
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'already holds a training run' in err[0] and '--resume auto' in err[0] and '--overwrite' in err[0]
    assert str(run) in err[0] and 'step_00000006.pt' in err[0]
    assert {q: q.read_bytes() for q in before} == before and set(list_checkpoints(run)) == {q for q in before if q.suffix == '.pt'}, 'untouched'
    assert main(args + ['--resume', 'auto', '--overwrite']) == 2          # one or the other
    # --resume auto on a finished run: nothing more to train, the log keeps its lines
    assert main(args + ['--resume', 'auto']) == 0
    assert [r['step'] for r in read_log(run / 'log.jsonl') if r['kind'] == 'train'] == [2, 4, 6]
    # --overwrite: the old checkpoints and log are gone, a new run of 4 steps wrote its own
    assert main(args[:4] + ['max_steps=4'] + args[5:] + ['--overwrite']) == 0
    assert [c.name for c in list_checkpoints(run)][-1] == 'step_00000004.pt' and not (run / 'checkpoints' / 'step_00000006.pt').exists()
    assert [r['step'] for r in read_log(run / 'log.jsonl') if r['kind'] == 'train'] == [2, 4]


def test_python_api_if_exists_and_interrupt(data, tmp_path, sigint_default):
    "The API: `if_exists` decides about an earlier run; a signal inside `fit` saves the step and raises TrainingInterrupted."
    import torch
    from trm_course.recipes import get_recipe
    from trm_course.train import Callback, RunExistsError, Trainer, TrainingInterrupted
    torch.set_num_threads(1)
    cfg = get_recipe('sudoku4_cpu', data=str(data), out_dir=str(tmp_path / 'run'), max_steps=12, eval_every=None,
                     global_batch_size=16, log_every=2, progress=False)

    class Kill(Callback):                  # what Ctrl-C in a notebook does: SIGINT to this process, at step 5
        def on_step_end(self, tr, metrics):
            if tr.step == 5: os.kill(os.getpid(), signal.SIGINT)
    a = Trainer(cfg, verbose=False)
    with pytest.raises(TrainingInterrupted) as e:
        a.fit(callbacks=a.config_callbacks() + [Kill()])
    assert e.value.step == a.step == 5 and e.value.signal_name == 'SIGINT' and e.value.exit_code == 130
    assert e.value.checkpoint == tmp_path / 'run' / 'checkpoints' / 'step_00000005.pt' and read_checkpoint(e.value.checkpoint)['step'] == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, 'the handler is put back'
    a.fit(steps=2, callbacks=[])                     # the same trainer is still usable: it continues
    assert a.step == 7
    with pytest.raises(RunExistsError, match='if_exists="resume"'):
        Trainer(cfg, verbose=False).fit(callbacks=[])
    b = Trainer(cfg, verbose=False, if_exists='resume')
    b.fit(callbacks=b.config_callbacks(at_end=None))
    assert b.step == 12 and [r['step'] for r in b.history if r['kind'] == 'train'][:3] == [2, 4, 6]
    c = Trainer(cfg, verbose=False, if_exists='overwrite')
    c.fit(steps=2, callbacks=c.config_callbacks())
    assert c.step == 2 and [r['step'] for r in read_log(tmp_path / 'run' / 'log.jsonl')] == [2]
    assert list_checkpoints(tmp_path / 'run') == [], 'the old checkpoints were deleted (the new run saved none yet)'
    with pytest.raises(ValueError, match='if_exists'):
        Trainer(cfg, if_exists='append')


def test_quickstart_interrupt_and_resume_keep_everything_in_the_run_folder(tmp_path):
    "`trm-course quickstart`: Ctrl-C keeps its checkpoint and says how to resume; nothing is left in the temporary folder."
    import tempfile
    tmpdir = Path(tempfile.gettempdir())
    before = set(tmpdir.glob('trm-quickstart-*'))
    out = tmp_path / 'qs'
    args = ['quickstart', '--out', str(out), '--steps', '60', '--threads', '1']
    p = _start(args, tmp_path)
    o, err = _signal_after(p, out, 10, signal.SIGINT)
    assert p.returncode == 130 and 'Traceback' not in o + err, err[-3000:]
    last = [l for l in err.splitlines() if l.strip()][-1]
    m = re.match(r'^interrupted at step (\d+); resume with: (trm-course quickstart .*)$', last)
    assert m and shlex.split(m.group(2)) == ['trm-course', *args, '--resume'], last
    step = int(m.group(1))
    assert read_checkpoint(list_checkpoints(out)[-1])['step'] == step
    data = next((out / 'data').iterdir())
    stamp = (data / 'train' / 'dataset.json').stat().st_mtime_ns
    r = subprocess.run([sys.executable, '-c', CLI, *shlex.split(m.group(2))[1:]], cwd=tmp_path, env=_env(tmp_path),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'resumed from {out / "checkpoints" / f"step_{step:08d}.pt"} at step {step}' in r.stdout
    assert f'the log, checkpoint and summary are in {out}/' in r.stdout
    summary = json.loads((out / 'quickstart.json').read_text())
    assert summary['steps'] == 60 and summary['resumed'] and summary['log'] == str(out / 'log.jsonl')
    assert (data / 'train' / 'dataset.json').stat().st_mtime_ns == stamp, 'the data was reused, not rebuilt'
    assert (out / 'quickstart_solved.png').exists() and read_checkpoint(summary['checkpoint'])['step'] == 60
    assert [r['step'] for r in read_log(out / 'log.jsonl') if r['kind'] == 'train'] == list(range(10, 61, 10))
    assert set(tmpdir.glob('trm-quickstart-*')) == before, 'no temporary folder left behind'


def test_torchrun_two_processes_one_checkpoint_every_rank_exits(data, tmp_path):
    """Ctrl-C in a terminal running `torchrun --nproc-per-node 2` (gloo on the CPU): SIGINT reaches the launcher and both
    workers (one process group), and the launcher forwards it to the workers once more. The ranks agree on the step,
    rank 0 writes one checkpoint of both ranks and prints the one line, and every process exits on its own (the launcher
    does not have to kill anyone, which it does after 30 s)."""
    torchrun = Path(sys.executable).with_name('torchrun')
    if not torchrun.exists(): pytest.skip('no torchrun next to this Python')
    run = tmp_path / 'run'
    args = _train_args(data, run)[1:]
    p = subprocess.Popen([str(torchrun), '--standalone', '--nproc-per-node', '2', '-m', 'trm_course.cli', 'train', *args],
                         cwd=tmp_path, env=_env(tmp_path) | {'TRM_DEVICE': 'cpu'}, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=_sigint_as_in_a_terminal)
    try:
        t0 = time.time()
        while p.poll() is None and _logged_step(run) < 6 and time.time() - t0 < 300: time.sleep(0.02)
        assert p.poll() is None, p.communicate()[1][-3000:]
        os.killpg(p.pid, signal.SIGINT)                  # what the terminal does on Ctrl-C
        t1 = time.time()
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=60)                               # reaped, whatever happened
    assert time.time() - t1 < 30 and 'forcefully' not in err, err[-3000:]
    lines = [l for l in err.splitlines() if l.startswith('interrupted at step')]
    assert len(lines) == 1, err[-3000:]                  # rank 0 only
    m = re.match(r'^interrupted at step (\d+); resume with: torchrun --nproc-per-node 2 -m trm_course.cli train (.*)$', lines[0])
    assert m and shlex.split(m.group(2)) == args + ['--resume', 'auto'], lines[0]
    step = int(m.group(1))
    cps = list_checkpoints(run)
    assert cps[-1].name == f'step_{step:08d}.pt'
    state = read_checkpoint(cps[-1])
    assert state['world_size'] == 2 and len(state['ranks']) == 2 and state['step'] == step
    with pytest.raises(ProcessLookupError):             # every process of the group (launcher and both ranks) is gone
        os.killpg(p.pid, 0)
