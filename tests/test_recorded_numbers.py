"""Numbers the README shows are the recorded ones (issue 19, item 4): its learning-curve rows are regenerated from
benchmarks/results/learning_curves.json by the benchmark's own `readme_rows`, and must match what README.md and its
source nbs/index.ipynb say, cell by cell."""
import importlib.util, json, re, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bench():
    spec = importlib.util.spec_from_file_location('bench_learning_curves', ROOT / 'benchmarks' / 'bench_learning_curves.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _norm(row: str) -> str:
    return re.sub(r'\s+', ' ', row.strip())


def _shown(text: str, labels) -> dict:
    "{label: the row's text} for every table row of `text` that starts with one of the labels."
    rows = {}
    for line in text.splitlines():
        for label in labels:
            if _norm(line).startswith(f'| {label} |'): rows[label] = _norm(line)
    return rows


@pytest.mark.parametrize('source', ['README.md', 'nbs/index.ipynb'])
def test_learning_curve_rows_are_the_recorded_ones(source):
    bench = _bench()
    from trm_course.experiments import load_curves
    curves, meta = load_curves(ROOT / 'benchmarks' / 'results' / 'learning_curves.json')
    want = {label: _norm(row) for label, row in zip(bench.README_TASKS.values(), bench.readme_rows(curves, meta.get('clock', 'cpu')))}
    assert want, 'learning_curves.json has none of the README tasks'
    text = (ROOT / source).read_text()
    if source.endswith('.ipynb'):
        text = '\n'.join(''.join(c['source']) for c in json.loads(text)['cells'] if c['cell_type'] == 'markdown')
    shown = _shown(text, want)
    wrong = {k: (shown.get(k), v) for k, v in want.items() if shown.get(k) != v}
    assert not wrong, (f'{source} does not show the recorded learning curves (benchmarks/results/learning_curves.json); '
                       'shown vs recorded:\n' + '\n'.join(f'  {s}\n  {w}' for s, w in wrong.values()))


def test_the_dagger_tells_the_forward_dtype():
    "The README marks the 6x6 row with a dagger: recorded in bfloat16 (sudoku6_cpu's dtype='auto' on a CPU with bf16 units)."
    runs = json.loads((ROOT / 'benchmarks' / 'results' / 'learning_curves.json').read_text())['meta']['runs']
    bench = _bench()
    dtypes = {n.split(', seed')[0]: set() for n in runs}
    for n, m in runs.items(): dtypes[n.split(', seed')[0]].add(bench.run_forward_dtype(m))
    for task, label in bench.README_TASKS.items():
        assert dtypes[task] == ({'bfloat16'} if label.endswith('†') else {'float32'}), (task, dtypes[task])
    assert '† ' in (ROOT / 'README.md').read_text(), 'the footnote that says what the dagger means'


def test_the_check_can_fail():
    "A doctored cell is caught."
    bench = _bench()
    from trm_course.experiments import load_curves
    curves, meta = load_curves(ROOT / 'benchmarks' / 'results' / 'learning_curves.json')
    rows = bench.readme_rows(curves, meta.get('clock', 'cpu'))
    label = next(iter(bench.README_TASKS.values()))
    doctored = rows[0].replace('%', '1%', 1)
    assert _shown(doctored, [label])[label] != _norm(rows[0])


def _nbtool():
    spec = importlib.util.spec_from_file_location('nbtool', ROOT / 'tools' / 'nbtool.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('source', ['README.md', 'nbs/index.ipynb'])
def test_generated_tables_are_the_recorded_ones(source):
    "Every `<!-- table: NAME -->` block (e.g. the converged ablation table) is what the record gives today."
    nbtool = _nbtool()
    text = (ROOT / source).read_text()
    if source.endswith('.ipynb'):
        text = '\n'.join(''.join(c['source']) for c in json.loads(text)['cells'] if c['cell_type'] == 'markdown')
    shown, want = nbtool.table_blocks(text), nbtool.generated_tables()
    assert set(shown) == set(want), f'{source}: generated tables {sorted(shown)}, expected {sorted(want)}'
    for name in want:
        assert shown[name] == want[name], (f'{source}: the table {name!r} is not what the record gives today; run '
                                           '`python tools/nbtool.py tables` and `python tools/nbtool.py readme`:\n'
                                           + '\n'.join(shown[name]) + '\n---\n' + '\n'.join(want[name]))


def test_a_doctored_generated_table_fails():
    nbtool = _nbtool()
    want = nbtool.generated_tables()['ablations']
    doctored = '<!-- table: ablations -->\n' + '\n'.join(want).replace('|', '| 1', 1) + '\n<!-- /table -->'
    assert nbtool.table_blocks(doctored)['ablations'] != want
