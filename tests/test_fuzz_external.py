"""Property-based tests of the readers of learner-supplied input that live in other chapters' modules: the ARC
submission validator and scorer (arc_eval), the course-checkpoint loader (checkpoint), the `key=value` overrides
(train) and the command line (cli). Same property as tests/test_fuzz_readers.py: a correct result, or the course's
own error (a ValueError subclass) whose message names the input and the problem; never another exception type.

Where a test found a bug in a module this file does not own, it is marked `xfail(strict=True)` with the fix in its
reason (strict: the mark fails the suite as soon as the fix lands, so it is then removed).

Profiles (seeded, `derandomize=True`, registered in conftest.py): `ci` (default, 120 examples per test) and `long` (2,000):
    HYPOTHESIS_PROFILE=long pytest tests/test_fuzz_external.py -n 0
"""
import contextlib, io, json, math, os, tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import given, strategies as st
from fuzz_branches import branch_report, check_shares, hit  # noqa: F401  (branch_report: reports the counts per reader)

# the seeded profiles 'ci' (default) and 'long' are registered once, in conftest.py

from trm_course.arc_eval import SubmissionError, load_submission, score_submission, validate_submission

TMP = Path(tempfile.mkdtemp(prefix='trm-fuzz-ext-'))

grids = st.integers(1, 3).flatmap(lambda h: st.integers(1, 3).flatmap(
    lambda w: st.lists(st.lists(st.integers(0, 9), min_size=w, max_size=w), min_size=h, max_size=h)))
BAD = st.sampled_from([10, -1, 10 ** 20, 1.5, float('nan'), '3', None, True, [], {}, [[]], np.array([[1]])])


# ---------------------------------------------------------------- ARC submissions
@st.composite
def submission_case(draw):
    tasks = draw(st.dictionaries(st.text('abcd0123', min_size=1, max_size=4),
                                 st.lists(st.tuples(grids, grids), min_size=1, max_size=2), min_size=1, max_size=3))
    solutions = {t: [o for _, o in pairs] for t, pairs in tasks.items()}
    sub = {t: [{'attempt_1': draw(st.sampled_from([o, [[0]]])), 'attempt_2': draw(st.sampled_from([o, [[1]]]))} for _, o in pairs]
           for t, pairs in tasks.items()}
    kind = draw(st.sampled_from(['ok', 'ok', 'cell', 'row', 'attempt', 'entry', 'entries', 'task', 'extra', 'top']))
    t = sorted(sub)[0]
    if kind == 'cell': sub[t][0]['attempt_1'] = [[draw(BAD)]]
    elif kind == 'row': sub[t][0]['attempt_2'] = draw(st.sampled_from([[[1, 2], [3]], [[0] * 31], [[0]] * 31, [], [[]], 'grid']))
    elif kind == 'attempt': del sub[t][0][draw(st.sampled_from(['attempt_1', 'attempt_2']))]
    elif kind == 'entry': sub[t][0] = draw(st.sampled_from([None, [], 'x', {'attempt_1': [[1]]}]))
    elif kind == 'entries': sub[t] = draw(st.sampled_from([sub[t] + sub[t], [], None, 'x', {}]))
    elif kind == 'task': del sub[t]
    elif kind == 'extra': sub['zzzz'] = [{'attempt_1': [[1]], 'attempt_2': [[1]]}]
    elif kind == 'top': sub = draw(st.sampled_from([[sub], None, 'sub', 3]))
    return tasks, solutions, sub, kind


@given(submission_case())
def test_fuzz_validate_and_score_submission(case):
    tasks, solutions, sub, kind = case
    test_puzzles = {t: {'test': [{'input': i, 'output': o} for i, o in pairs]} for t, pairs in tasks.items()}
    try:
        validate_submission(sub, test_puzzles)
        res = score_submission(sub, solutions)
    except SubmissionError as e:
        msg = str(e)
        assert kind != 'ok', msg
        assert msg.startswith('submission') and len(msg) > 20, msg
        hit('validate_submission + score_submission', 'refused'); return
    assert kind == 'ok', f'{kind} accepted'
    hit('validate_submission + score_submission', 'accepted')
    # accepted: the score is what an independent count says
    want = np.mean([np.mean([any(e[a] == o for a in ('attempt_1', 'attempt_2')) for e, o in zip(sub[t], solutions[t])])
                    for t in solutions])
    assert math.isclose(res['score'], want)


_valid_submission = st.dictionaries(st.text('abcd0123', min_size=1, max_size=4), st.lists(
    st.fixed_dictionaries({'attempt_1': grids, 'attempt_2': grids}), min_size=1, max_size=2), min_size=1, max_size=3)


@given(st.one_of(_valid_submission.map(lambda d: json.dumps(d).encode()), st.text(max_size=40).map(str.encode)))
def test_fuzz_load_submission(data):
    p = TMP / 'sub.json'; p.write_bytes(data)
    try: obj = load_submission(p)
    except SubmissionError as e:
        assert str(p) in str(e); hit('load_submission', 'refused'); return
    hit('load_submission', 'accepted')
    assert obj == json.loads(data)


@pytest.mark.parametrize('data', [b'{"a": [\xff]}', b'[' * 100_000])
def test_load_submission_not_utf8_or_deep(data):
    p = TMP / 'bad_sub.json'; p.write_bytes(data)
    with pytest.raises(SubmissionError, match='bad_sub.json'): load_submission(p)


# ---------------------------------------------------------------- course checkpoints (checkpoint.py)
def test_checkpoint_error_is_a_value_error():
    "Every reader's error should be a ValueError, so that one `except ValueError` catches all bad input."
    from trm_course.checkpoint import CheckpointError
    assert issubclass(CheckpointError, ValueError)


def _course_checkpoint() -> tuple[Path, dict]:
    from trm_course.checkpoint import FORMAT, VERSION
    torch.manual_seed(0)
    state = {'format': FORMAT, 'version': VERSION, 'step': 7, 'model': {'w': torch.randn(64, 8), 'b': torch.zeros(8)}}
    p = TMP / 'course' / 'step_00000007.pt'; p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, p)
    return p, state


_CK, _CK_STATE = _course_checkpoint()


@st.composite
def byte_damage(draw):
    return [(draw(st.sampled_from(['truncate', 'flip', 'insert', 'zero'])), draw(st.floats(0, 1)), draw(st.integers(1, 255)))
            for _ in range(draw(st.integers(0, 2)))]


def _damage(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op, frac, v in ops:
        if not b: break
        k = min(int(frac * len(b)), len(b) - 1)
        if op == 'truncate': del b[k:]
        elif op == 'flip': b[k] ^= v
        elif op == 'insert': b[k:k] = bytes([v])
        else: b[k] = 0
    return bytes(b)


@given(byte_damage())
def test_fuzz_read_checkpoint(ops):
    from trm_course.checkpoint import CheckpointError, read_checkpoint
    p = TMP / 'course' / 'damaged.pt'; p.write_bytes(_damage(_CK.read_bytes(), ops))
    try: state = read_checkpoint(p)
    except CheckpointError as e:
        assert str(p) in str(e) and len(str(e)) > len(str(p)) + 10, e; hit('read_checkpoint', 'refused'); return
    hit('read_checkpoint', 'accepted, damaged' if ops else 'accepted, as written')
    assert state['step'] == 7 and all(torch.equal(state['model'][k], v) for k, v in _CK_STATE['model'].items())


@given(st.integers(0, 10 ** 9), st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=4), st.integers(0, 99))
def test_read_checkpoint_valid_inputs(step, shapes, seed):
    "Valid checkpoints (any step, any tensors) are accepted and read back exactly."
    from trm_course.checkpoint import FORMAT, VERSION, read_checkpoint
    g = torch.Generator().manual_seed(seed)
    state = {'format': FORMAT, 'version': VERSION, 'step': step,
             'model': {f'w{k}': torch.randn(*sh, generator=g) for k, sh in enumerate(shapes)}}
    p = TMP / 'course' / 'valid.pt'; torch.save(state, p)
    got = read_checkpoint(p)
    assert got['step'] == step and got['model'].keys() == state['model'].keys()
    assert all(torch.equal(got['model'][k], v) for k, v in state['model'].items())
    hit('read_checkpoint', 'accepted, valid strategy')


def test_read_checkpoint_refuses_foreign_and_pickles():
    "weights_only: a pickle that would run code is refused, not executed."
    from trm_course.checkpoint import CheckpointError, read_checkpoint
    marker = TMP / 'pwned'

    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    p = TMP / 'course' / 'evil.pt'; torch.save({'format': 'x', 'evil': Evil()}, p)
    with pytest.raises(CheckpointError): read_checkpoint(p)
    assert not marker.exists()
    q = TMP / 'course' / 'other.pt'; torch.save({'weights': torch.zeros(2)}, q)
    with pytest.raises(CheckpointError, match='not a trm-course training checkpoint'): read_checkpoint(q)


# ---------------------------------------------------------------- key=value overrides (recipes.py)
from trm_course.network import TRMConfig
from trm_course.recipes import TrainConfig, field_type, parse_overrides, valid_keys

_KEYS = valid_keys()
values = st.one_of(st.sampled_from(['1', '0', '-3', '1e3', '1e400', '2.5', 'nan', 'inf', '-inf', 'true', 'False', 'none', '',
                                    ' 7 ', '١٢', '1_0', '0x10', 'cpu', 'rope']), st.text(max_size=6))
items = st.one_of(st.builds(lambda k, v: f'{k}={v}', st.sampled_from(sorted(_KEYS)), values),
                  st.builds(lambda k, v: f'{k}={v}', st.text(max_size=5), values), st.text(max_size=8))


def _well_typed(key, v) -> bool:
    base, optional = field_type(TRMConfig, key[6:]) if key.startswith('model.') else field_type(TrainConfig, key)
    if v is None: return optional
    if base is bool: return isinstance(v, bool)
    if base is int: return isinstance(v, int) and not isinstance(v, bool)
    if base is float: return isinstance(v, float) and math.isfinite(v)
    return isinstance(v, str)


def _names_an_item(msg: str, its) -> bool:
    keys = [i.split('=', 1)[0].strip() for i in its]
    return any(k in msg or repr(k) in msg or repr(i) in msg for i, k in zip(its, keys))


def _typed_value(key):
    "Values of the right type for `key`, as a user would type them."
    base, optional = field_type(TRMConfig, key[6:]) if key.startswith('model.') else field_type(TrainConfig, key)
    v = (st.integers(1, 10_000).map(str) if base is int else st.floats(1e-6, 1e3).map(repr) if base is float else
         st.sampled_from(['true', 'false', 'True', '0', '1']) if base is bool else st.text('abc_1', min_size=1, max_size=6))
    return st.one_of(v, st.just('none')) if optional else v


valid_items = st.sampled_from(sorted(_KEYS)).flatmap(lambda k: _typed_value(k).map(lambda v: f'{k}={v}'))


@given(st.one_of(st.lists(valid_items, min_size=1, max_size=4), st.lists(items, max_size=4)))
def test_fuzz_parse_overrides(its):
    valid = all(i.split('=', 1)[0] in _KEYS for i in its) and len({i.split('=', 1)[0] for i in its}) == len(its) and \
        all(_typed_item(i) for i in its)
    try: out = parse_overrides(its)
    except ValueError as e:
        assert not valid, f'valid overrides {its} refused: {e}'
        assert _names_an_item(str(e), its), str(e)
        hit('parse_overrides', 'refused'); return
    hit('parse_overrides', 'accepted')
    assert set(out) <= set(_KEYS)
    for k, v in out.items(): assert _well_typed(k, v), (k, v)
    try: TrainConfig().overrides(its)     # the same items through the config: a config, or one error naming a key
    except ValueError as e: assert _names_an_item(str(e), its), str(e)


def _typed_item(item: str) -> bool:
    "True when `item` came from `valid_items` (a value of the key's own type)."
    key, v = item.split('=', 1)
    base, optional = field_type(TRMConfig, key[6:]) if key.startswith('model.') else field_type(TrainConfig, key)
    if v == 'none': return optional
    if base is int: return v.isdigit() and not v.startswith('0')
    if base is float:
        try: return math.isfinite(float(v)) and float(v) > 0
        except ValueError: return False
    if base is bool: return v in ('true', 'false', 'True', '0', '1')
    return v != '' and set(v) <= set('abc_1')


_NUMERIC_KEYS = sorted(k for k in _KEYS if (field_type(TRMConfig, k[6:]) if k.startswith('model.') else field_type(TrainConfig, k))[0]
                       in (int, float))


@pytest.mark.parametrize('value', ['nan', 'inf', '-inf', '1e400', 'NaN', '+inf'])
def test_overrides_refuse_non_finite_numbers(value):
    "NaN and inf in every numeric field of the configuration (training and model): one error naming the key."
    assert len(_NUMERIC_KEYS) >= 20, _NUMERIC_KEYS
    for key in _NUMERIC_KEYS:
        with pytest.raises(ValueError, match=key.split('.')[-1]): parse_overrides([f'{key}={value}'])


# ---------------------------------------------------------------- the command line, in process
from trm_course.cli import main

_CMDS = st.sampled_from([[], ['train'], ['train', 'sudoku4_cpu'], ['train', 'nope'], ['evaluate'], ['build-data'],
                         ['build-data', 'nope'], ['demo', '--n'], ['quickstart', '--steps'], ['bogus']])
_ARGS = st.lists(st.one_of(st.sampled_from(['--print-config', 'lr=abc', 'lr=1e-3', 'T=x', 'hidden_size=-1', 'data=/nonexistent',
                                            '--resume', 'auto', '--n-train', 'abc', '-5', '--split', 'bad', '--max-examples',
                                            '1e9', '=', 'k=', '--steps', 'x', '--n', '--help-me', 'ema=maybe']),
                           st.text(alphabet='abc=-_1', max_size=6)), max_size=4)


def _run_cli(argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main(argv)
        except SystemExit as e: rc = e.code if isinstance(e.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


def _is_int(s: str) -> bool:
    try: int(s); return True
    except ValueError: return False


@given(_CMDS, _ARGS)
def test_fuzz_cli(cmd, args):
    argv = cmd + args
    # never let a fuzzed command start real work: demo/quickstart only with a value that argparse must refuse
    if cmd[:1] in (['demo'], ['quickstart']) and (not args or _is_int(args[0])): return
    if cmd[:1] == ['train'] and '--print-config' not in args and not any(a.startswith('data=') for a in args):
        argv = argv + ['data=/nonexistent/trm-fuzz']   # the run stops at the missing dataset
    if cmd[:1] == ['evaluate'] and args and not args[0].startswith('-'):
        argv = ['evaluate', str(TMP / 'no-such-checkpoint.pt')] + args[1:]
    rc, out, err = _run_cli(argv)
    hit('cli main', 'exit 0' if rc == 0 else f'exit {rc}')
    assert rc in (0, 2), (argv, rc, err)
    assert 'Traceback' not in err + out, err
    if rc == 2: assert (err + out).strip(), f'{argv}: exit status 2 without a message'


def test_zz_every_reader_reaches_both_branches():
    "Runs last in this module (file order; xdist --dist loadscope keeps a module on one worker)."
    # the CLI fuzzer never lets a command start real work (a missing dataset, a refused value), so it only refuses
    check_shares(min_accepted=0.1, min_refused=0.1, only_refuses=('cli main',))
