"""The model zoo (chapter 24, trm_course.zoo): every shipped model re-evaluated on its held-out set against its card,
the file checks (a flipped byte, a cut file, a missing file), typed puzzles (good and bad), solve() against the labels,
the command-line functions, and the chapters that load shipped models (21, 23) finding them."""
import json, shutil

import numpy as np
import pytest
import torch

from trm_course import zoo
from trm_course.core import IGNORE_LABEL
from trm_course.grids import MAZE_CHARS

NAMES = zoo.names()
RECIPE_MODELS = ('sudoku4_cpu', 'sudoku6_cpu', 'maze_small_cpu')


def test_the_zoo_ships_its_models():
    for n in RECIPE_MODELS + ('sudoku4_cpu_250', 'watch_sudoku4', 'watch_maze5', 'watch_arc_tiny'):
        assert n in NAMES, f'{n} is not shipped: run `OMP_NUM_THREADS=1 python benchmarks/train_zoo.py {n}`'


def test_the_zoo_stays_small():
    total = sum(p.stat().st_size for p in zoo.models_dir().iterdir() if p.is_file())
    assert total <= 10 * 2**20, f'the zoo is {total / 2**20:.1f} MiB; the wheel allows 10'


@pytest.mark.parametrize('name', NAMES)
def test_card(name):
    c = zoo.verify(name)                      # both SHA-256 match
    assert c['licence'].startswith('Apache-2.0') and c['limits'] and f'train_zoo.py {name} --force' in c['command']
    assert c['git']['commit'] and c['training']['cpu_seconds'] > 0 and c['training']['steps'] > 0
    assert c['weights']['parameters'] == sum(v.numel() for v in zoo.load(name, 'cpu').state_dict().values())
    text = (zoo.models_dir() / f'{name}.md').read_text()
    assert text.rstrip('\n') == zoo.render_card(c), f'{name}.md is not the rendered card'
    if name in RECIPE_MODELS:   # trained until converged, by the rule the card states
        v, curve = c['training']['convergence'], c['training']['curve']
        assert v['converged'] and v['gain_points'] < 0.5 and v['from_step'] <= 0.8 * v['to_step'], v
        last, start = curve[-1], [p for p in curve if p['step'] <= 0.8 * curve[-1]['step']][-1]   # the rule, from the curve
        assert (v['from_step'], v['to_step']) == (start['step'], last['step'])
        assert v['gain_points'] == pytest.approx(100 * (last['exact'] - start['exact']), abs=1e-6)
        assert curve[-1]['step'] == c['training']['steps'] and curve[-1]['exact'] == pytest.approx(c['held_out']['exact'], abs=0.01)


@pytest.mark.parametrize('name', NAMES)
def test_recorded_accuracy(name):
    "Re-evaluated on its held-out set, every model is within one point of its card (exact and token)."
    r = zoo.evaluate(name, device='cpu')
    assert r['count'] == r['recorded_count'] == zoo.card(name)['test_set']['count']
    assert abs(r['exact'] - r['recorded_exact']) <= 0.01, r
    assert abs(r['token'] - r['recorded_token']) <= 0.01, r


@pytest.mark.parametrize('name', [n for n in RECIPE_MODELS if n in NAMES])
def test_better_than_copying_the_input(name):
    d = zoo.held_out(name, device='cpu')
    copy = ((d['inputs'] == d['labels']) | (d['labels'] == IGNORE_LABEL)).all(-1).float().mean().item()
    assert zoo.card(name)['held_out']['exact'] >= copy + 0.5


def _copy(tmp_path, name='sudoku4_cpu'):
    for f in zoo.models_dir().glob(f'{name}.*'): shutil.copy(f, tmp_path / f.name)
    return tmp_path


@pytest.mark.parametrize('part', ['.pt', '.test.npz'])
def test_a_flipped_byte_is_one_clear_error(tmp_path, part):
    d = _copy(tmp_path)
    f = d / f'sudoku4_cpu{part}'
    raw = bytearray(f.read_bytes()); raw[len(raw) // 3] ^= 0x01
    f.write_bytes(bytes(raw))
    for call in (lambda: zoo.load('sudoku4_cpu', 'cpu', folder=d), lambda: zoo.held_out('sudoku4_cpu', folder=d),
                 lambda: zoo.evaluate('sudoku4_cpu', 'cpu', folder=d)):
        with pytest.raises(zoo.ZooError, match=f'sudoku4_cpu{part.replace(".", "[.]")} is corrupt or was changed'):
            call()


def test_cut_and_missing_files(tmp_path):
    d = _copy(tmp_path)
    w = d / 'sudoku4_cpu.pt'
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(zoo.ZooError, match='sudoku4_cpu.pt is corrupt'): zoo.load('sudoku4_cpu', 'cpu', folder=d)
    w.unlink()
    with pytest.raises(zoo.ZooError, match='sudoku4_cpu.pt is missing'): zoo.load('sudoku4_cpu', 'cpu', folder=d)
    with pytest.raises(zoo.ZooError, match="no shipped model 'sudoku7'"): zoo.load('sudoku7')
    (d / 'sudoku4_cpu.json').write_text('{not json')
    with pytest.raises(zoo.ZooError, match='sudoku4_cpu.json cannot be read'): zoo.card('sudoku4_cpu', folder=d)


def test_an_intact_copy_loads(tmp_path):
    m = zoo.load('sudoku4_cpu', 'cpu', folder=_copy(tmp_path))
    ref = zoo.load('sudoku4_cpu', 'cpu')
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), ref.state_dict().values()))


@pytest.mark.skipif(not (torch.cuda.is_available() or torch.backends.mps.is_available()), reason='no GPU here')
def test_load_on_a_gpu():
    dev = 'cuda' if torch.cuda.is_available() else 'mps'
    r = zoo.evaluate('sudoku4_cpu', device=dev)
    assert abs(r['exact'] - r['recorded_exact']) <= 0.01


@pytest.mark.parametrize('text, match', [
    ('12345', 'needs 16 cells'), ('1234 3412 2143 432x', "cell 16 is 'x'"), ('1234 5... .... ....', "cell 5 is '5'"),
    ('11.. .... .... ....', 'digit 1 appears twice in row 1'), ('1... 1... .... ....', 'digit 1 appears twice in column 1'),
    ('1... .1.. .... ....', 'digit 1 appears twice in box 1'), ('12.. ..3. .... ...3', 'has no solution')])
def test_bad_sudoku_text(text, match):
    with pytest.raises(ValueError, match=match): zoo.solve('sudoku4_cpu', text, device='cpu', verbose=False)


@pytest.mark.parametrize('text, match', [
    ('S..../...../...../...../....', 'needs 5 rows of 5 cells'), ('S..../..x../...../...../....G', "character 'x'"),
    ('S..../...../...../...../.....', 'exactly one S and one G'), ('S#.../##.../...../...../....G', 'no way from S to G')])
def test_bad_maze_text(text, match):
    with pytest.raises(ValueError, match=match): zoo.solve('maze_small_cpu', text, device='cpu', verbose=False)


def test_bad_arguments():
    with pytest.raises(ValueError, match='an arc model'): zoo.solve('watch_arc_tiny', '1234', verbose=False)
    with pytest.raises(ValueError, match='must be text'): zoo.solve('sudoku4_cpu', 1234, device='cpu', verbose=False)
    with pytest.raises(ValueError, match='N_sup=0'): zoo.solve('sudoku4_cpu', '1... ..2. .3.. ...4', N_sup=0, verbose=False)
    with pytest.raises(ValueError, match='n=0'): zoo.held_out('sudoku4_cpu', n=0)


def _typed(name, x):
    kind, n = zoo.task_of(zoo.card(name))
    if kind == 'sudoku': return ' '.join(''.join('.' if t == 1 else str(t - 1) for t in x[r * n:(r + 1) * n]) for r in range(n))
    return '/'.join(''.join(MAZE_CHARS[t - 1] for t in x[r * n:(r + 1) * n]).replace(' ', '.') for r in range(n))


def _truth(name, x, y):
    kind, _ = zoo.task_of(zoo.card(name))
    want = np.where(y == IGNORE_LABEL, x, y)
    return ''.join(str(t - 1) for t in want) if kind == 'sudoku' else ''.join(MAZE_CHARS[t - 1] for t in want)


@pytest.mark.parametrize('name', [n for n in RECIPE_MODELS if n in NAMES])
def test_solve_typed_held_out_puzzles(name):
    """The first 20 held-out puzzles typed as text: solve() answers like the batch evaluation does, its rule check
    agrees with the labels, and the share solved is consistent with the card (all of them at 100%)."""
    from trm_course.halting import rollout
    d = zoo.held_out(name, n=20, device='cpu')
    m = zoo.load(name, 'cpu')
    batch = rollout(m, {'inputs': d['inputs']}, record=('preds',))['preds'][-1].numpy()
    right = 0
    for x, y, p in zip(d['inputs'].numpy(), d['labels'].numpy(), batch):
        res = zoo.solve(name, _typed(name, x), device='cpu', verbose=False)
        assert len(res['steps']) == m.cfg.N_sup and all(isinstance(s['q_halt'], float) for s in res['steps'])
        assert res['answer'] == zoo._decode(p, res['task'])
        assert res['right'] == (res['answer'] == _truth(name, x, y))
        right += res['right']
    exact = zoo.card(name)['held_out']['exact']
    if exact == 1.0: assert right == 20
    else: assert right >= 20 * exact - 6          # 20 of 500-1000 puzzles: a loose binomial margin


def test_solve_prints_every_step(capsys):
    res = zoo.solve('sudoku4_cpu', '1... ..2. .3.. ...4', device='cpu')
    out = capsys.readouterr().out
    assert all(f"step {k} q=" in out for k in range(1, len(res['steps']) + 1)) and 'answer after 4 steps' in out


def test_cli(capsys):
    assert zoo.cli_main(['solve', 'sudoku4_cpu', '1... ..2. .3.. ...4', '--device', 'cpu', '--json']) == 0
    res = json.loads(capsys.readouterr().out)
    assert res['model'] == 'sudoku4_cpu' and len(res['answer']) == 16
    assert zoo.cli_main(['solve', 'sudoku4_cpu', '1... ..2. .3.. ..44']) == 2
    assert 'error: puzzle' in capsys.readouterr().err
    assert zoo.cli_main(['solve', 'nosuchmodel', '1234']) == 2
    assert "no shipped model 'nosuchmodel'" in capsys.readouterr().err
    assert zoo.cli_main(['evaluate', 'sudoku4_cpu', 'device=cpu', '--max-examples', '50']) == 0
    r = json.loads(capsys.readouterr().out)
    assert r['count'] == 50 and 0 <= r['exact_accuracy'] <= 1
    assert zoo.cli_main(['evaluate', 'sudoku4_cpu', 'lr=3']) == 2
    assert zoo.cli_main(['list']) == 0 and 'sudoku6_cpu' in capsys.readouterr().out
    assert zoo.resolve_checkpoint_or_name('sudoku6_cpu') == ('zoo', 'sudoku6_cpu')
    assert zoo.resolve_checkpoint_or_name('runs/sudoku6') == ('checkpoint', __import__('pathlib').Path('runs/sudoku6'))


def test_chapter_21_finds_its_shipped_models():
    "Chapter 21's quick-mode runs are shipped under the key its `fit_or_load` computes (else it would train again)."
    from trm_course.core import set_mode, current_mode
    from trm_course.watch import watch_sudoku_task, watch_maze_task, watch_key
    old = current_mode(); set_mode('quick')
    try:
        for task, name in ((watch_sudoku_task, 'watch_sudoku4'), (watch_maze_task, 'watch_maze5')):
            t = task('cpu', 'float32')
            fit = dict(t['fit']); steps, key = fit.pop('steps'), fit.pop('data_key')
            assert zoo.find(watch_key=watch_key(t['cfg'], steps, key, fit)) == name
        # the ARC model: the key chapter 21's cell computes (recipe arc_tiny_cpu, 750 steps, its data)
        from trm_course.core import cache_dir
        from trm_course.arc_data import build_arc_tiny_data
        from trm_course.recipes import get_recipe
        from trm_course.watch import trainer_run_key
        root = build_arc_tiny_data(cache_dir('datasets', 'watch-arc-tiny'))
        cfg = get_recipe('arc_tiny_cpu', data=str(root), out_dir='x', max_steps=750, eval_every=None, progress=False, seed=0)
        key = trainer_run_key(cfg, root)   # the same key as before TrainConfig gained fields (run_identity), so the same model
        assert zoo.find(watch_key=key) == 'watch_arc_tiny', 'arc_tiny_cpu changed: retrain with train_zoo.py watch_arc_tiny --force'
    finally: set_mode(old)


SWEEP_MODELS = ('sudoku6_small_s0', 'sudoku6_small_s1', 'sudoku6_small_s2')


def test_chapter_23_finds_its_shipped_models():
    """Chapter 23's models are shipped: the converged sweep's TRM row (issue 19), seeds 0-2, each trained by today's
    sudoku6_sweep recipe + the sweep's overrides (a recipe change needs the sweep run again, then train_zoo.py NAME --force),
    with headroom (held-out exact between 60% and 95%) and its validation exact on the card."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'benchmarks'))
    from records import config_diff
    from trm_course.ablations import SWEEP_RECIPE
    for seed, name in enumerate(SWEEP_MODELS):
        assert name in NAMES, f'{name} is not shipped: `python benchmarks/train_zoo.py {name} --sweep-log LOG` (see its spec)'
        c = zoo.card(name)
        sw = c['training']['sweep']
        assert c['training']['kind'] == 'sweep' and sw['config']['resolved']['seed'] == seed
        assert sw['config']['recipe'] == SWEEP_RECIPE and not config_diff(sw['config']), (name, config_diff(sw['config']))
        assert 0.6 <= c['held_out']['exact'] <= 0.95 and 0.6 <= c['held_out']['val_exact'] <= 0.95, c['held_out']
        assert c['held_out']['count'] == 500 and c['data']['n_train_puzzles'] == 100
        assert abs(c['held_out']['exact'] - sw['final']['test']['exact']) <= 0.002, 'the shipped weights score what the sweep recorded'


def test_chapter_23_finds_its_first_model():
    "The partly trained 4x4 model (chapter 23's first version, its section 'The chapter's first model') matches today's sudoku4_cpu recipe."
    from trm_course.test_time import _shipped_sudoku, SUDOKU_DATA
    from trm_course.sudoku import sudoku_data
    m = _shipped_sudoku(4, 250, 0, sudoku_data(4, **SUDOKU_DATA[4]))
    assert m is not None and m.zoo_name == 'sudoku4_cpu_250', \
        'the sudoku4_cpu recipe changed: run `OMP_NUM_THREADS=1 python benchmarks/train_zoo.py sudoku4_cpu_250 --force`'

