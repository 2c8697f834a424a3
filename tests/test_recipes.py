"""The recipes module (chapter 14a): one written recipe per run, typed key=value overrides, a config that saves and
reads back, the published models' parameter counts, `trm-course train --print-config`, and no old copy left in the
modules this chapter took them from (network, optim)."""
import dataclasses, json, subprocess, sys
from pathlib import Path

import pytest

from trm_course import network, optim
from trm_course.network import OPEN_FIELDS, TRMConfig, TRMNetwork, count_parameters
from trm_course.recipes import (CPU_RECIPES, PUBLISHED_RECIPES, RECIPES, SWEEP_RECIPES, TrainConfig, get_recipe,
                                parse_overrides, published_model, recipe_card, valid_keys)

ROOT = Path(__file__).resolve().parents[1]
# the authors' published models, counted once by hand in chapter 08 (puzzle table excluded: it is a buffer)
PUBLISHED_PARAMS = {'sudoku_mlp_t': 5_028_866, 'sudoku_attn': 6_828_034, 'maze': 6_822_914, 'arc1': 6_829_058, 'arc2': 6_829_058}


@pytest.mark.parametrize('name', list(RECIPES))
def test_every_recipe_builds_a_valid_config(name):
    cfg = get_recipe(name)
    assert isinstance(cfg, TrainConfig) and cfg.recipe == name and cfg.data
    assert cfg.model.open_fields == OPEN_FIELDS, 'the dataset and the run fill these'
    shape = RECIPES[name].data_shape or dict(vocab_size=11, seq_len=16)
    model = cfg.model.complete(**({'num_puzzle_identifiers': 3} | shape), forward_dtype='float32')
    assert model.open_fields == () and TRMNetwork(model) is not None
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_recipe_names_and_published_values():
    assert tuple(RECIPES) == PUBLISHED_RECIPES + CPU_RECIPES + SWEEP_RECIPES and SWEEP_RECIPES == ('sudoku6_sweep',)
    assert set(PUBLISHED_RECIPES) == {'sudoku_mlp_t', 'sudoku_attn', 'maze', 'arc1', 'arc2'}
    assert set(CPU_RECIPES) == {'sudoku4_cpu', 'sudoku6_cpu', 'maze_small_cpu', 'arc_tiny_cpu'}
    a = get_recipe('arc1')
    assert (a.model.T, a.model.n, a.lr, a.puzzle_emb_lr, a.weight_decay, a.epochs) == (3, 4, 1e-4, 1e-2, 0.1, 100_000)
    s = get_recipe('sudoku_mlp_t')
    assert (s.model.n, s.model.mlp_t, s.weight_decay, s.puzzle_emb_lr, s.epochs, s.eval_interval) == (6, True, 1.0, 1e-4, 50_000, 5_000)
    q = get_recipe('sudoku4_cpu')
    assert (q.model.hidden_size, q.model.puzzle_emb_ndim, q.global_batch_size, q.lr, q.device, q.dtype) == (64, 0, 64, 1e-3, 'cpu', 'float32')


def test_published_parameter_counts():
    counts = {n: count_parameters(TRMNetwork(published_model(n, num_puzzle_identifiers=1))) for n in PUBLISHED_RECIPES}
    assert counts == PUBLISHED_PARAMS


def test_arc_cards_hold_what_the_arc_chapter_needs():
    for name, n_eval in (('arc1', 400), ('arc2', 120)):
        c = recipe_card(name)
        assert c['data']['name'] == get_recipe(name).data and c['data']['num_aug'] == 1000 and c['data']['seed'] == 42
        assert f'({n_eval} tasks)' in c['benchmark'] and c['evaluation']['pass_ks'][:2] == (1, 2)
        assert c['evaluation']['submission_k'] == 2 and c['published']['metric'] == 'pass@2'
        assert c['model']['n'] == 4 and c['training']['warmup_steps'] == 2000 and c['training']['loss'] == 'stablemax'
    assert 'never evaluate ARC-AGI-1' in recipe_card('arc2')['data']['warning']


def test_overrides_nested_and_typed():
    cfg = get_recipe('sudoku4_cpu', 'model.T=3', 'n=4', 'lr=3e-4', 'ema=off', 'max_steps=none', 'model.puzzle_emb_ndim=none',
                     'model.puzzle_emb_len=1', 'epochs=1e3')
    assert (cfg.model.T, cfg.model.n, cfg.lr, cfg.ema, cfg.max_steps, cfg.epochs) == (3, 4, 3e-4, False, None, 1000)
    assert cfg.model.puzzle_emb_ndim == 64, 'none -> hidden_size'
    assert type(cfg.epochs) is int and type(cfg.lr) is float
    assert parse_overrides(['model.T=2', 'lr=1']) == {'model.T': 2, 'lr': 1.0}
    assert 'model.T' in valid_keys() and 'lr' in valid_keys() and 'model' not in valid_keys()


@pytest.mark.parametrize('item, words', [
    ('lrr=1', ["unknown TrainConfig key 'lrr'", 'model.T', 'global_batch_size']),
    ('model.TT=1', ["unknown TrainConfig key 'model.TT'"]),
    ('model.T=two', ["model.T='two'", 'an integer']),
    ('epochs=2.5', ["epochs='2.5'", 'an integer']),
    ('lr=nan', ["lr='nan'", 'a finite number']),
    ('lr=-inf', ["lr='-inf'", 'a finite number']),
    ('ema=maybe', ["ema='maybe'", 'true or false']),
    ('max_steps=lots', ["max_steps='lots'", 'an integer or none']),
    ('ema', ['key=value']),
    ('model.forward_dtype=float32', ['model.forward_dtype', 'dtype=']),
    ('model.hidden_size=0', ['hidden_size must be a positive integer']),
    ('loss=mse', ['stablemax']),
])
def test_override_errors(item, words):
    with pytest.raises(ValueError) as e: get_recipe('sudoku4_cpu', item)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_keyword_changes_are_checked_too():
    with pytest.raises(ValueError, match="lr='fast'"): get_recipe('arc1', lr='fast')
    with pytest.raises(ValueError, match='lr=inf'): get_recipe('arc1', lr=float('inf'))
    with pytest.raises(ValueError, match="unknown recipe 'arc3'"): get_recipe('arc3')
    assert get_recipe('arc1', hidden_size=256).model.puzzle_emb_ndim == 256, 'a puzzle vector as wide as the model follows it'
    assert RECIPES['arc1'].config.model.hidden_size == 512, 'get_recipe returns a copy'


def test_variant_model_class_is_kept():
    @dataclasses.dataclass
    class Variant(TRMConfig):
        extra_switch: bool = False
    cfg = TrainConfig(model=Variant.template(T=2))
    c2 = cfg.overrides(['model.extra_switch=true', 'model.n=3'])
    assert type(c2.model) is Variant and c2.model.extra_switch is True and c2.model.n == 3 and c2.model.T == 2
    with pytest.raises(ValueError, match='true or false'): cfg.overrides(['model.extra_switch=2'])
    d = c2.to_dict()
    assert d['model_class'] == 'Variant'
    with pytest.raises(ValueError, match='model_cls=Variant'): TrainConfig.from_dict(d)
    assert TrainConfig.from_dict(d, model_cls=Variant) == c2


def test_round_trip_nested_flat_and_old_layout():
    cfg = get_recipe('arc_tiny_cpu', 'model.T=3', 'seed=7')
    d = cfg.to_dict()
    assert set(d['model']) == {f.name for f in dataclasses.fields(TRMConfig)} and 'hidden_size' not in d
    assert TrainConfig.from_dict(d) == cfg and TrainConfig.from_dict(cfg.to_dict(flat=True)) == cfg
    old = {'preset': 'x', 'hidden_size': 64, 'num_heads': 4, 'puzzle_emb_ndim': None, 'lr': 2e-3}
    o = TrainConfig.from_dict(old)
    assert (o.recipe, o.model.hidden_size, o.model.puzzle_emb_ndim, o.lr) == ('x', 64, 64, 2e-3)
    with pytest.raises(ValueError, match=r"unknown keys \['bogus', 'model.nope'\]"):
        TrainConfig.from_dict({**d, 'bogus': 1, 'model': {**d['model'], 'nope': 2}})
    text = str(cfg)
    assert 'recipe arc_tiny_cpu' in text and 'model: TRMConfig' in text and "T                      = 3" in text


def test_complete_refuses_a_disagreeing_dataset():
    m = get_recipe('sudoku_mlp_t', 'model.seq_len=81').model
    assert m.complete(seq_len=81, vocab_size=11).seq_len == 81
    with pytest.raises(ValueError, match='seq_len=81 is set.*seq_len=900'): m.complete(seq_len=900)
    with pytest.raises(ValueError, match='not set yet'): TRMNetwork(m)


def test_print_config_through_the_cli():
    from trm_course.cli import main
    import contextlib, io
    out = io.StringIO()
    with contextlib.redirect_stdout(out): assert main(['train', 'sudoku4_cpu', 'model.T=3', 'lr=2e-3', '--print-config']) == 0
    text = out.getvalue()
    assert 'recipe sudoku4_cpu' in text and 'lr                       = 0.002' in text
    assert any(l.split() == ['T', '=', '3'] for l in text.splitlines())
    err = io.StringIO()
    with contextlib.redirect_stderr(err): assert main(['train', 'sudoku4_cpu', 'lrr=1', '--print-config']) == 2
    assert "unknown TrainConfig key 'lrr'" in err.getvalue()


def test_list_through_the_console_script():
    r = subprocess.run([sys.executable, '-m', 'trm_course.cli', 'train', '--list'], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert all(n in r.stdout for n in RECIPES) and 'published' in r.stdout


def test_cli_data_names_match_the_recipes():
    from trm_course.cli import DATA_NAMES
    assert {r.config.data for r in RECIPES.values()} == set(DATA_NAMES.values())


def test_no_copies_left_in_network_and_optim():
    for mod, names in ((network, ('PUBLISHED_CONFIGS', 'PUBLISHED_PARAMS', 'REFERENCE_NAMES', 'REFERENCE_IGNORED',
                                  'to_reference', 'from_reference')),
                       (optim, ('TASK_DEFAULTS', 'task_defaults', '_COMMON'))):
        left = [n for n in names if hasattr(mod, n)]
        assert not left, f'{mod.__name__} still defines {left}'


def test_no_copies_left_in_train_and_arc_eval():
    from trm_course import arc_eval, train
    for mod, names in ((train, ('PRESETS', 'PUBLISHED_PRESETS', 'get_preset', 'MODEL_FIELDS', 'parse_overrides', '_SUDOKU', '_ARC')),
                       (arc_eval, ('ARC_PUBLISHED_RECIPES', '_ARC_MODEL', '_ARC_TRAINING'))):
        left = [n for n in names if hasattr(mod, n)]
        assert not left, f'{mod.__name__} still defines {left}'


try:
    from hypothesis import given, strategies as st
except ImportError:   # the dev extra installs hypothesis
    given = None

if given is not None:
    _KEYS = valid_keys() + ['T', 'n', 'model', 'model.', 'lrr', ' lr ', 'model.model.T']
    _VALUES = st.one_of(st.sampled_from(['1', '0', '-3', '1e3', '1e400', '2.5', 'nan', 'inf', '-inf', 'true', 'False', 'none',
                                         '', ' 7 ', '١٢', '1_0', '0x10', 'cpu', 'rope', 'float32', 'stablemax']), st.text(max_size=6))
    _ITEMS = st.one_of(st.builds(lambda k, v: f'{k}={v}', st.sampled_from(_KEYS), _VALUES), st.text(max_size=8))

    @given(st.lists(_ITEMS, max_size=4), st.sampled_from(list(RECIPES)))
    def test_fuzz_overrides_give_a_config_or_one_value_error_naming_the_key(items, name):
        try: cfg = get_recipe(name, *items)
        except ValueError as e:
            msg = str(e)
            assert any(i.split('=', 1)[0].strip() in msg or repr(i) in msg for i in items), msg
            return
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg
        for f in dataclasses.fields(cfg):      # every value has its field's type (checked again independently here)
            v = getattr(cfg, f.name)
            assert v is None or f.name == 'model' or isinstance(v, (int, float, str, bool)), (f.name, v)
            if isinstance(v, float): assert v == v and abs(v) != float('inf'), (f.name, v)


def test_every_recipe_names_the_build_data_kind_of_its_dataset():
    "The trainer's 'build it first' hint reads the recipes' build commands; they must agree with the CLI's table."
    from trm_course.cli import DATA_NAMES
    for r in RECIPES.values():
        cmd = r.notes.get('build') or (r.notes.get('data') or {}).get('build')
        assert cmd and cmd.startswith('trm-course build-data '), r.name
        assert DATA_NAMES[cmd.split()[-1]] == r.config.data, r.name
