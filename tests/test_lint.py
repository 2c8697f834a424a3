"""`ruff check .` passes from the repository root -- the library, the chapters (notebooks), the benchmarks, the tools and
the tests -- with the rules in pyproject.toml (undefined names, star imports, unused imports and variables, syntax
errors, always-true comparisons, call defaults...). It is the command a contributor runs."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which('ruff', path=str(Path(sys.executable).parent)) or shutil.which('ruff')
    assert exe, 'ruff is not installed: it is a dev requirement (pip install -e ".[dev]")'
    return [exe]


def test_ruff_check_passes():
    r = subprocess.run(_ruff() + ['check', '--output-format', 'concise', '.'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, 'ruff check found problems:\n' + r.stdout + r.stderr


def test_ruff_sees_an_undefined_name(tmp_path):
    "The check can fail: a file with an undefined name and an unused import is refused with the project's rules."
    bad = tmp_path / 'bad.py'
    bad.write_text('import os\n\ndef f():\n    return undefined_thing\n')
    r = subprocess.run(_ruff() + ['check', '--config', str(ROOT / 'pyproject.toml'), '--output-format', 'concise', str(bad)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and 'F821' in r.stdout and 'F401' in r.stdout, r.stdout + r.stderr


def test_ruff_checks_the_notebooks():
    "The notebooks are linted too, with only nbdev's re-definitions allowed: an unused import or undefined name fails."
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('#| default_exp probe'),
                nbformat.v4.new_code_cell('#| export\nimport os\nfrom pathlib import Path'),
                nbformat.v4.new_code_cell('from pathlib import Path\nx = undefined_thing\nPath(".")')]
    r = subprocess.run(_ruff() + ['check', '--output-format', 'concise', '--stdin-filename', 'nbs/probe.ipynb'],
                       input=nbformat.writes(nb), cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and 'F401' in r.stdout and 'F821' in r.stdout, r.stdout + r.stderr
    assert 'F811' not in r.stdout, 'a re-import in a later cell is nbdev style (pyproject.toml, per-file rules for nbs/)'
