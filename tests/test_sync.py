"The library must be exactly what the notebooks export (notebooks are the source)."
import filecmp, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_library_matches_notebooks(tmp_path):
    for name in ('settings.ini', 'nbs'):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    exe = Path(sys.executable).with_name('nbdev_export')
    subprocess.run([str(exe)], cwd=tmp_path, check=True, capture_output=True)
    ours, fresh = ROOT / 'trm_course', tmp_path / 'trm_course'
    fresh_py = sorted(p.name for p in fresh.glob('*.py'))
    ours_py = sorted(p.name for p in ours.glob('*.py'))
    assert ours_py == fresh_py, f'modules without a notebook or notebooks without a module: {set(ours_py) ^ set(fresh_py)}'
    stale = [n for n in fresh_py if not filecmp.cmp(ours / n, fresh / n, shallow=False)]
    assert not stale, f'trm_course/ is out of sync with nbs/ for {stale}: run nbdev_export and commit'
