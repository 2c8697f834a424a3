"The committed-notebook policy (README, Contributing): outputs kept, execution counts kept, chapter shape."
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
import nbtool  # noqa: E402

CHAPTERS = sorted(p for p in (ROOT / 'nbs').glob('[0-9][0-9]*.ipynb'))


def test_there_are_chapters():
    assert len(CHAPTERS) >= 2


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_notebook_follows_output_policy(path):
    assert nbtool.check(path) == []


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_chapter_shape(path):
    nb = json.loads(path.read_text())
    cells = nb['cells']
    src = lambda c: ''.join(c['source'])
    first = src(cells[0])
    assert cells[0]['cell_type'] == 'markdown' and first.startswith('# '), 'first cell: the chapter title'
    assert f'colab.research.google.com/github/trm-course/trm-course/blob/main/nbs/{path.name}' in first, 'Open in Colab badge'
    code = [src(c) for c in cells if c['cell_type'] == 'code']
    assert any(s.startswith('#| default_exp ') for s in code), 'exports a module'
    assert any("'google.colab' in sys.modules" in s for s in code[:3]), 'guarded Colab install cell near the top'
    md = '\n'.join(src(c) for c in cells if c['cell_type'] == 'markdown')
    assert '## Summary' in md and '## Exercises' in md, 'ends with a summary and exercises'
    last = src(cells[-1])
    assert last == nbtool.EXPORT_CELL, 'last cell: the guarded export cell (`python tools/nbtool.py sync`)'
    installs = [s for s in code if "'google.colab' in sys.modules" in s]
    assert installs == [nbtool.install_cell()], 'one install cell at the package version (`python tools/nbtool.py sync`)'


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_chapter_needs_no_checkout(path):
    """A chapter runs from the installed package in any folder (Colab, pip): it reads nothing through `../`, writes
    pictures through `save_figure`/`figures_dir`, and imports nbdev only in its guarded export cell."""
    nb = json.loads(path.read_text())
    for i, c in enumerate(nb['cells']):
        s = ''.join(c['source'])
        if c['cell_type'] != 'code' or s == nbtool.EXPORT_CELL: continue
        assert '../' not in s, f'cell {i} reads or writes through ../ (the checkout layout)'
        assert "'images/" not in s and '"images/' not in s, f'cell {i} writes into images/'
        assert 'import nbdev' not in s, f'cell {i} imports nbdev (a dev-only dependency)'


def test_readme_is_generated_from_index():
    assert (ROOT / 'README.md').read_text() == nbtool.render_readme(), \
        'README.md is out of date: edit nbs/index.ipynb, then run `python tools/nbtool.py readme`'


MAX_EXPORTED_LINES = 55   # a learner reads an exported cell at once; course22p2's longest is 55 lines


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_exported_cells_are_short(path):
    "Every exported cell (`#| export`, `#| export <module>`) has at most MAX_EXPORTED_LINES lines."
    nb = json.loads(path.read_text())
    long = [(c.get('id'), len(''.join(c['source']).splitlines())) for c in nb['cells'] if c['cell_type'] == 'code'
            and ''.join(c['source']).lstrip().startswith('#| export')
            and len(''.join(c['source']).splitlines()) > MAX_EXPORTED_LINES]
    assert not long, f'exported cells longer than {MAX_EXPORTED_LINES} lines (cell id, lines): {long}; split them'


def test_the_cell_length_check_can_fail(tmp_path):
    nb = {'cells': [{'cell_type': 'code', 'id': 'x', 'source': ['#| export\n'] + ['a = 1\n'] * 60}]}
    p = tmp_path / '98_long.ipynb'
    p.write_text(json.dumps(nb))
    with pytest.raises(AssertionError, match='longer than'): test_exported_cells_are_short(p)
