"""Checks that can fail: every trained-result floor in a chapter sits above a baseline the chapter computes.

The convention (chapter 00, "Checks that can fail"): a chapter that shows a trained result checks it with
`assert_above(value, floor, baseline=..., name=...)` (or `assert_below` for a loss), where `baseline` is computed
on the same data -- copying the input (`copy_baseline`), the most frequent answer, or the untrained model -- and
`assert_above` itself refuses a floor that is not above that baseline. This file checks, in the chapters that train
and show results (FLOOR_CHAPTERS):

- no raw `assert` compares a result with a number (`assert acc >= 0.7`, `assert loss < 0.5 * first`): such a floor
  names no baseline, so nothing shows it could fail. The few asserts of that shape that are not trained results
  (statistics of generated data, hand-made examples) are listed in NOT_TRAINED with the reason;
- every `assert_above`/`assert_below` call gives a baseline, and the baseline is an expression, not a number typed
  in (a typed number is a claim, not a measurement);
- the chapter uses the convention at least once (a chapter cannot pass by deleting its floors).

Chapters whose floors are being reworked elsewhere are in PENDING, marked xfail(strict=True): the mark fails the suite
as soon as such a chapter follows the convention, so whoever fixes it removes it from PENDING.
"""
import ast, json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOOR_CHAPTERS = ['17_sudoku', '18_maze', '20_arc_eval', '21_watch', '22_ablations', '22a_less_is_more', '23_test_time']
PENDING = {}
# asserts of the flagged shape that check no trained model: (chapter, the comparison as ast.unparse prints it) -> why
NOT_TRAINED = {
    ('18_maze', 'r[3] < 0.6'): 'a statistic of the generated mazes (share of ties), no model involved',
    ('18_maze', "m_alt['exact'] < 0.5"): 'a hand-made alternative path scored by the metric, no model involved',
}
BOUND_CALLS = ('assert_above', 'assert_below')
TOLERANCE = 0.01      # smaller numbers are numerical tolerances (abs(a - b) < 1e-6), not floors


def _code_cells(path: Path):
    for i, c in enumerate(json.loads(path.read_text())['cells']):
        if c['cell_type'] != 'code': continue
        src = '\n'.join(l for l in ''.join(c['source']).splitlines() if not l.lstrip().startswith(('%', '!')))
        yield i, ast.parse(src)


def _is_number(node) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)): node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _raw_floors(tree: ast.AST):
    "Comparisons (<, <=, >, >=) inside asserts that involve a float literal of TOLERANCE or more."
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert): continue
        for cmp in ast.walk(node.test):
            if not (isinstance(cmp, ast.Compare) and any(isinstance(o, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for o in cmp.ops)):
                continue
            if any(isinstance(n, ast.Constant) and isinstance(n.value, float) and abs(n.value) >= TOLERANCE for n in ast.walk(cmp)):
                yield ast.unparse(cmp)


def _bound_calls(tree: ast.AST):
    "(name, baseline node or None) of every assert_above / assert_below call."
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BOUND_CALLS:
            base = next((k.value for k in node.keywords if k.arg == 'baseline'), node.args[2] if len(node.args) > 2 else None)
            yield node.func.id, base


def floor_problems(path: Path, chapter: str | None = None) -> list[str]:
    "Every way the chapter at `path` breaks the convention (empty: it follows it)."
    chapter = chapter or path.stem
    problems, calls = [], 0
    for i, tree in _code_cells(path):
        for cmp in _raw_floors(tree):
            if (chapter, cmp) not in NOT_TRAINED:
                problems.append(f'cell {i}: raw floor `{cmp}`: write it with assert_above/assert_below and a computed baseline')
        for name, base in _bound_calls(tree):
            calls += 1
            if base is None: problems.append(f'cell {i}: {name} without a baseline')
            elif _is_number(base): problems.append(f'cell {i}: {name} with a typed-in baseline {ast.unparse(base)}: compute it')
    if not calls: problems.append('no assert_above/assert_below: the chapter checks no trained result against a baseline')
    return problems


@pytest.mark.parametrize('chapter', [pytest.param(c, marks=pytest.mark.xfail(reason=PENDING[c], strict=True)) if c in PENDING
                                     else c for c in FLOOR_CHAPTERS])
def test_trained_result_floors_have_baselines(chapter):
    path = ROOT / 'nbs' / f'{chapter}.ipynb'
    assert path.exists(), f'{path} is gone: update FLOOR_CHAPTERS'
    problems = floor_problems(path)
    assert not problems, f'{chapter}:\n' + '\n'.join(problems)


def test_not_trained_exceptions_still_exist():
    "Every NOT_TRAINED entry still matches an assert (stale exceptions would hide nothing, but mislead)."
    for chapter, cmp in NOT_TRAINED:
        found = {c for _, t in _code_cells(ROOT / 'nbs' / f'{chapter}.ipynb') for c in _raw_floors(t)}
        assert cmp in found, f'{chapter}: no assert `{cmp}` any more: remove it from NOT_TRAINED'


def _nb(tmp_path, *sources) -> Path:
    p = tmp_path / '98_fake.ipynb'
    p.write_text(json.dumps({'cells': [{'cell_type': 'code', 'source': s} for s in sources]}))
    return p


def test_the_policy_can_fail(tmp_path):
    raw = floor_problems(_nb(tmp_path, "acc = 0.9\nassert acc >= 0.7, 'learned'"))
    assert any('raw floor `acc >= 0.7`' in p for p in raw) and any('no assert_above' in p for p in raw)
    assert any('raw floor' in p for p in floor_problems(_nb(tmp_path, "assert last < 0.5 * first")))
    typed = floor_problems(_nb(tmp_path, "assert_above(acc, 0.7, baseline=0.27, name='token')"))
    assert typed == ["cell 0: assert_above with a typed-in baseline 0.27: compute it"]
    assert floor_problems(_nb(tmp_path, "assert_above(acc, 0.7)")) == ['cell 0: assert_above without a baseline']
    ok = _nb(tmp_path, "b = copy_baseline(x, y)\nassert_above(acc, b['token'] + 0.05, baseline=b['token'], name='token')\n"
                       "assert_below(loss, 0.5 * first, first)\nassert abs(a - b) < 1e-6 and 0 <= n <= 1")
    assert floor_problems(ok) == []


def test_assert_above_refuses_a_floor_under_its_baseline():
    from trm_course.core import assert_above, assert_below, copy_baseline
    b = copy_baseline([[1, 2, 3, 4]], [[1, 2, 0, 9]])          # copying gets 2 of the 3 scored cells
    assert b['token'] == pytest.approx(2 / 3) and b['exact'] == 0.0
    with pytest.raises(AssertionError, match='not above the baseline'): assert_above(0.9, 0.5, baseline=b['token'])
    with pytest.raises(AssertionError, match='below the floor'): assert_above(0.6, 0.7, baseline=b['token'])
    with pytest.raises(AssertionError, match='not below the baseline'): assert_below(0.1, 2.0, baseline=1.0)
    with pytest.raises(AssertionError): assert_above(float('nan'), 0.7, baseline=0.5)
    with pytest.raises(AssertionError): assert_above(0.9, 0.7, baseline=float('nan'))
    assert assert_above(0.75, 0.7, baseline=b['token']) == 0.75
    with pytest.raises(ValueError, match='same non-empty'): copy_baseline([[1, 2]], [[1, 2, 3]])
