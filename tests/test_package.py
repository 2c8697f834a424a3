"The wheel: builds, carries the package data, and installs a working console script."
import subprocess, sys, zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out), str(ROOT)],
                   check=True, capture_output=True)
    whl, = out.glob('trm_course-*.whl')
    return whl


def test_wheel_installs_and_runs(wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert 'trm_course/core.py' in names and 'trm_course/cli.py' in names
    assert not any(n.startswith('nbs/') or n.startswith('tests/') for n in names)
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'trm-course = trm_course.cli:main' in zipfile.ZipFile(wheel).read(entry).decode()
    # a fresh venv with the wheel installed into it; it borrows the runtime dependencies (torch, numpy, ...) from the
    # test environment through a .pth line, which does not run that environment's editable-install hook
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    site = next((venv / 'lib').glob('python3*/site-packages'))
    parent_site = next(p for p in sys.path if p.endswith('site-packages') and Path(p).is_dir())
    (site / '_deps.pth').write_text(parent_site + '\n')
    subprocess.run([venv / 'bin/python', '-m', 'pip', 'install', '--no-deps', '-q', str(wheel)], check=True, capture_output=True)
    out = subprocess.run([venv / 'bin/python', '-c', 'import trm_course, trm_course.core as c; print(trm_course.__file__)'],
                         check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(venv) in out, f'imported the checkout instead of the wheel: {out}'
    help_ = subprocess.run([venv / 'bin/trm-course', '--help'], check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert 'demo' in help_


def test_wheel_ships_runtime_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.name for p in (ROOT / 'data').glob('*.json'))
    missing = [n for n in shipped if f'trm_course/data/{n}' not in names]
    assert not missing, f'runtime data files not in the wheel: {missing}'
    assert not any(n.endswith('.pt') for n in names), 'test data must not be shipped'
