"The wheel: builds, carries the package data, and installs a working console script."
import json, subprocess, sys, zipfile
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


@pytest.fixture(scope='module')
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed into it (built once for this module's tests). It borrows the runtime
    dependencies (torch, numpy, ...) from the test environment through a .pth line, which does not run that
    environment's editable-install hook; returns (venv, an empty working folder outside the checkout)."""
    base = tmp_path_factory.mktemp('installed')
    venv, cwd = base / 'venv', base / 'work'
    cwd.mkdir()
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    site = next((venv / 'lib').glob('python3*/site-packages'))
    parent_site = next(p for p in sys.path if p.endswith('site-packages') and Path(p).is_dir())
    (site / '_deps.pth').write_text(parent_site + '\n')
    subprocess.run([venv / 'bin/python', '-m', 'pip', 'install', '--no-deps', '-q', str(wheel)], check=True, capture_output=True)
    return venv, cwd


def test_wheel_installs_and_runs(wheel, installed):
    names = zipfile.ZipFile(wheel).namelist()
    assert 'trm_course/core.py' in names and 'trm_course/cli.py' in names
    assert not any(n.startswith('nbs/') or n.startswith('tests/') for n in names)
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'trm-course = trm_course.cli:main' in zipfile.ZipFile(wheel).read(entry).decode()
    venv, cwd = installed
    out = subprocess.run([venv / 'bin/python', '-c', 'import trm_course, trm_course.core as c; print(trm_course.__file__)'],
                         check=True, capture_output=True, text=True, cwd=cwd).stdout
    assert str(venv) in out, f'imported the checkout instead of the wheel: {out}'
    help_ = subprocess.run([venv / 'bin/trm-course', '--help'], check=True, capture_output=True, text=True, cwd=cwd).stdout
    assert 'demo' in help_


def test_the_wheel_ships_the_zoo(wheel, installed):
    "Every file of trm_course/models/ is in the wheel, and a shipped model loads and scores from the installed wheel."
    names = set(zipfile.ZipFile(wheel).namelist())
    files = sorted(p.name for p in (ROOT / 'trm_course' / 'models').iterdir() if p.is_file())
    assert files and not [f for f in files if f'trm_course/models/{f}' not in names], 'zoo files missing from the wheel'
    venv, cwd = installed
    out = subprocess.run([venv / 'bin/python', '-m', 'trm_course.zoo', 'evaluate', 'sudoku4_cpu', 'device=cpu', '--max-examples', '64'],
                         check=True, capture_output=True, text=True, cwd=cwd).stdout
    r = json.loads(out)
    assert r['model'] == 'sudoku4_cpu' and r['count'] == 64
    where = subprocess.run([venv / 'bin/python', '-c', 'from trm_course import zoo; print(zoo.models_dir())'],
                           check=True, capture_output=True, text=True, cwd=cwd).stdout
    assert str(venv) in where, f'the zoo was read from the checkout, not the wheel: {where}'


def test_wheel_ships_runtime_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.name for p in (ROOT / 'data').glob('*.json'))
    missing = [n for n in shipped if f'trm_course/data/{n}' not in names]
    assert not missing, f'runtime data files not in the wheel: {missing}'
    # chapters 11/12 and the parity tests read the authors' recorded outputs, and chapters 17/18/20/22 show recorded
    # benchmark results (22 reads the .jsonl logs of its sweep): both ship, so the chapters run from `pip install
    # trm-course` and on Colab
    refs = sorted(p.name for p in (ROOT / 'data' / 'reference').glob('*.pt'))
    assert refs and all(f'trm_course/data/reference/{n}' in names for n in refs), 'reference outputs not in the wheel'
    results = sorted(p.name for p in (ROOT / 'benchmarks' / 'results').glob('*') if p.suffix in ('.json', '.jsonl', '.txt'))
    assert results and all(f'trm_course/results/{n}' in names for n in results), 'recorded results not in the wheel'
    assert not [n for n in names if n.startswith('trm_course/data/') and n.count('/') > 3], 'nothing from data/ subfolders'
    assert not [n for n in names if '/cache/' in n or '/built/' in n], 'no caches or built datasets'
