"""`ruff check` passes on the library, the benchmarks, the tools and the tests, with the rules in pyproject.toml
(undefined names, unused imports and variables, syntax errors, always-true comparisons, call defaults...)."""
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
    r = subprocess.run(_ruff() + ['check', '--output-format', 'concise', 'trm_course', 'benchmarks', 'tools', 'tests'],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, 'ruff check found problems:\n' + r.stdout + r.stderr


def test_ruff_sees_an_undefined_name(tmp_path):
    "The check can fail: a file with an undefined name and an unused import is refused with the project's rules."
    bad = tmp_path / 'bad.py'
    bad.write_text('import os\n\ndef f():\n    return undefined_thing\n')
    r = subprocess.run(_ruff() + ['check', '--config', str(ROOT / 'pyproject.toml'), '--output-format', 'concise', str(bad)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1 and 'F821' in r.stdout and 'F401' in r.stdout, r.stdout + r.stderr
