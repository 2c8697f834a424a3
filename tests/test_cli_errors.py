"""The command line's small holes, each closed with one clear message (issue 20, point 3), and `evaluate` on a run whose
latest checkpoint is corrupt (point 1): it names that file and the readable ones beside it.
Also: no false `acc=0.000` in the progress bar or the log at steps where no row halted, and the Colab install cell
tells "not published (yet)" apart from "no internet"."""
import sys, types
from pathlib import Path
from types import SimpleNamespace

import pytest

from trm_course.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('cli_errors')
    assert main(['build-data', 'sudoku4', '--out', str(tmp / 'data'), '--n-train', '40', '--n-test', '16', '--n-aug', '1']) == 0
    return tmp / 'data'


def _one_error(capsys) -> str:
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


@pytest.mark.parametrize('opt,value', [('--n-train', '0'), ('--n-train', '-3'), ('--n-test', '0'), ('--n-aug', '-1')])
def test_build_data_counts(tmp_path, capsys, opt, value):
    assert main(['build-data', 'sudoku4', '--out', str(tmp_path / 'd'), opt, value]) == 2
    assert f'{opt} {value}' in _one_error(capsys) and not (tmp_path / 'd').exists()


@pytest.mark.parametrize('steps', ['-5', '0'])
def test_max_steps_must_be_positive(data, tmp_path, capsys, steps):
    assert main(['train', 'sudoku4_cpu', f'data={data}', f'out_dir={tmp_path / "run"}', f'max_steps={steps}', 'progress=false']) == 2
    assert f'max_steps={steps}' in _one_error(capsys) and not (tmp_path / 'run').exists()


def test_missing_dataset_names_the_kind(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('TRM_CACHE', str(tmp_path / 'cache'))
    assert main(['train', 'sudoku6_cpu', f'out_dir={tmp_path / "run"}']) == 2     # the recipe's dataset, by name
    assert '`trm-course build-data sudoku6`' in _one_error(capsys)
    assert main(['train', 'sudoku4_cpu', f'data={tmp_path / "elsewhere"}', f'out_dir={tmp_path / "run"}']) == 2
    e = _one_error(capsys)
    assert f'trm-course build-data KIND --out {tmp_path / "elsewhere"}' in e and 'sudoku4' in e and 'arc1' in e


def test_train_help_lists_the_common_keys(capsys):
    with pytest.raises(SystemExit) as e: main(['train', '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for key in ('max_steps=', 'lr=', 'global_batch_size=', 'eval_every=', 'out_dir=', '--print-config', '--overwrite', '130'):
        assert key in out, key


def test_evaluate_with_a_corrupt_latest_checkpoint(data, tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', 'sudoku4_cpu', f'data={data}', f'out_dir={run}', 'max_steps=8', 'eval_every=4', 'progress=false',
                 'global_batch_size=16', 'eval_max_examples=16']) == 0
    good, latest = run / 'checkpoints' / 'step_00000004.pt', run / 'checkpoints' / 'step_00000008.pt'
    latest.write_bytes(latest.read_bytes()[:1000])                          # truncated
    capsys.readouterr()
    for arg in (run, latest):                                                # the run folder, or the file itself
        assert main(['evaluate', str(arg), '--max-examples', '16']) == 2
        err = capsys.readouterr().err
        assert err.startswith(f'error: checkpoint {latest} is corrupt or truncated'), err
        assert 'step_00000004.pt (step 4)' in err and f'trm-course evaluate {good}' in err
        assert 'step_00000008.pt (step' not in err, 'only readable checkpoints are offered'
    assert main(['evaluate', str(good), '--max-examples', '16']) == 0        # the command it suggests works
    assert '"step": 4' in capsys.readouterr().out


def test_no_false_accuracy_when_no_row_halted():
    from trm_course.train import JsonlLog, ProgressBar
    halted = {'count': 3.0, 'accuracy': 0.5, 'exact_accuracy': 0.25, 'steps': 2.0, 'lm_loss': 1.5, 'lr': 1e-3}
    none = {'count': 0.0, 'accuracy': 0.0, 'exact_accuracy': 0.0, 'steps': 0.0, 'lm_loss': 1.4, 'lr': 1e-3}
    posts = []
    bar = ProgressBar(every=1)
    bar.bar = SimpleNamespace(update=lambda n: None, set_postfix=lambda **kw: posts.append(kw))
    tr = SimpleNamespace(step=1)
    bar.on_step_end(tr, none)                      # nothing halted yet: no accuracy at all
    bar.on_step_end(tr, halted)
    bar.on_step_end(tr, none)                      # keeps the last real value
    assert [p.get('acc') for p in posts] == [None, '0.500', '0.500'] and posts[2]['loss'] == '1.400'
    logged = []
    tr = SimpleNamespace(step=10, epoch=0, total_steps=100, elapsed=lambda: 0.0, log=logged.append)
    JsonlLog(every=10).on_step_end(tr, none)
    JsonlLog(every=10).on_step_end(tr, halted)
    assert 'train/accuracy' not in logged[0] and 'train/exact_accuracy' not in logged[0] and logged[0]['train/count'] == 0
    assert logged[0]['train/lm_loss'] == 1.4 and logged[1]['train/accuracy'] == 0.5


@pytest.mark.parametrize('answers,why', [
    ({'pypi.org': 404, 'github.com': 404}, 'not published (yet)'),
    ({'pypi.org': None, 'github.com': None}, 'no internet'),
    ({'pypi.org': 404, 'github.com': 200}, 'pip failed (PyPI: missing; GitHub tag v'),
])
def test_colab_install_cell_says_why(monkeypatch, answers, why):
    "The install cell of every chapter (tools/nbtool.py's template) run as on Colab, with pip failing and fake servers."
    sys.path.insert(0, str(ROOT / 'tools'))
    try: import nbtool
    finally: sys.path.remove(str(ROOT / 'tools'))
    import subprocess, urllib.error, urllib.request
    monkeypatch.setitem(sys.modules, 'google.colab', types.ModuleType('google.colab'))
    monkeypatch.setattr(subprocess, 'run', lambda *a, **k: SimpleNamespace(returncode=1))
    def urlopen(url, timeout=None):
        code = next(v for k, v in answers.items() if k in url)
        if code is None: raise urllib.error.URLError('Temporary failure in name resolution')
        if code != 200: raise urllib.error.HTTPError(url, code, 'Not Found', {}, None)
        return SimpleNamespace()
    monkeypatch.setattr(urllib.request, 'urlopen', urlopen)
    with pytest.raises(RuntimeError) as e:
        exec(compile(nbtool.install_cell(), 'install_cell', 'exec'), {'__name__': '__main__'})
    assert why in str(e.value) and nbtool.settings_version() in str(e.value), str(e.value)
