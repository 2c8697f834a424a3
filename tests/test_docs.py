"""The documentation site's notebook processing works for every chapter.

`nbdev_docs` = (1) nbdev processes every notebook (adds `show_doc` cells, runs exported cells, imports and
`show_doc` cells to render the API docs, strips directives) and (2) Quarto renders the result to HTML.
Quarto cannot be installed on the test machines (not on PyPI as a wheel; the binary is downloaded from GitHub),
so this test runs step (1) exactly as `nbdev_docs` does (nbdev's `FilterDefaults` processors, in a fresh process,
from `nbs/`) and checks that every notebook goes through. A typical failure: a cell that mixes imports with code
using variables from earlier, non-exported cells (nbdev runs cells that contain imports): keep imports in cells
of their own.
"""
import json, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))

SCRIPT = r'''
import os, sys
from pathlib import Path
os.environ['IN_TEST'] = '1'
from nbdev.processors import FilterDefaults
from nbdev.serve_drv import exec_nb
exec_nb(Path(sys.argv[1]), Path(sys.argv[2]), FilterDefaults)
'''


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_docs_processing(path, tmp_path):
    out = tmp_path / path.name
    res = subprocess.run([sys.executable, '-c', SCRIPT, str(path), str(out)], cwd=ROOT / 'nbs',
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f'{path.name}: nbdev docs processing failed:\n{res.stderr[-3000:]}'
    nb = json.loads(out.read_text())
    assert nb['cells'], f'{path.name}: processed notebook is empty'
