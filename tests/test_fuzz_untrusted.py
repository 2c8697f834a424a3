"""Untrusted files: every `torch.load` in the library runs with `weights_only=True` (a checkpoint from the internet
cannot run code), and every download is checked against a checksum before it is used (a SHA-256 given by the
caller, the SHA-256 recorded at the first download, or the shipped ConceptARC manifest)."""
import ast, hashlib, json
from pathlib import Path

import pytest

import trm_course
from trm_course.core import DownloadError, check_recorded_sha256, download

PKG = Path(trm_course.__file__).parent


def _torch_load_calls():
    "(module, line, call) for every `torch.load(...)` call in the library's source."
    for py in sorted(PKG.glob('*.py')):
        tree = ast.parse(py.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'load'
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == 'torch'):
                yield py.name, node.lineno, node


def test_every_torch_load_is_weights_only():
    calls = list(_torch_load_calls())
    assert calls, 'no torch.load found: the scan is broken'
    bad = [f'{m}:{line}' for m, line, c in calls
           if not any(k.arg == 'weights_only' and isinstance(k.value, ast.Constant) and k.value.value is True for k in c.keywords)]
    assert not bad, f'torch.load without weights_only=True at {bad}'


def test_no_other_unpickling():
    "No pickle.load / np.load(allow_pickle=True) on files either."
    hits = []
    for py in sorted(PKG.glob('*.py')):
        for node in ast.walk(ast.parse(py.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                f = node.func
                if isinstance(f.value, ast.Name) and f.value.id == 'pickle' and f.attr in ('load', 'loads', 'Unpickler'):
                    hits.append(f'{py.name}:{node.lineno}')
                if f.attr == 'load' and any(k.arg == 'allow_pickle' and getattr(k.value, 'value', False) is True for k in node.keywords):
                    hits.append(f'{py.name}:{node.lineno}')
    assert not hits, hits


def _url(p: Path) -> str: return p.resolve().as_uri()


def test_download_checks_sha256(tmp_path):
    src = tmp_path / 'src.bin'; src.write_bytes(b'the published bytes')
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / 'cache' / 'file.bin'
    with pytest.raises(DownloadError, match='checksum mismatch'): download(_url(src), dest, sha256='0' * 64)
    assert not dest.exists() and not list(dest.parent.glob('.*')), 'a file that fails its checksum is removed'
    assert download(_url(src), dest, sha256=good).read_bytes() == b'the published bytes'
    dest.write_bytes(b'tampered')                     # a damaged cached copy is fetched again, not used
    assert download(_url(src), dest, sha256=good).read_bytes() == b'the published bytes'


def test_download_offline_is_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match='could not download'):
        download(_url(tmp_path / 'missing.bin'), tmp_path / 'out.bin')
    assert not (tmp_path / 'out.bin').exists()


@pytest.mark.parametrize('module, sub, error', [('sudoku', 'sudoku-extreme', 'SudokuDataError'),
                                                ('maze', 'maze-30x30-hard-1k', 'MazeDataError')])
def test_cached_csv_checked_against_recorded_sha256(tmp_path, monkeypatch, module, sub, error):
    import importlib
    mod = importlib.import_module(f'trm_course.{module}')
    monkeypatch.setenv('TRM_CACHE', str(tmp_path))
    f = tmp_path / sub / 'test.csv'; f.parent.mkdir(parents=True); f.write_text('source,q,a,rating\n')
    get = mod.sudoku_extreme_file if module == 'sudoku' else mod.maze_hard_file
    assert get('test') == f and (tmp_path / sub / 'test.csv.sha256').exists(), 'the first use records the SHA-256'
    f.write_text('source,q,a,rating\nx,y,z,1\n')      # changed after the download
    with pytest.raises(getattr(mod, error), match='differs from the one recorded'): get('test')


def test_check_recorded_sha256(tmp_path):
    p = tmp_path / 'x.csv'; p.write_bytes(b'a')
    check_recorded_sha256(p); check_recorded_sha256(p)
    p.write_bytes(b'b')
    with pytest.raises(DownloadError, match=str(p)): check_recorded_sha256(p)


def test_conceptarc_files_checked_against_manifest(tmp_path):
    from trm_course.arc import ArcDataError, load_conceptarc
    task = {'train': [{'input': [[1]], 'output': [[2]]}], 'test': [{'input': [[1]], 'output': [[2]]}]}
    f = tmp_path / 'corpus' / 'Same' / 'Same1.json'; f.parent.mkdir(parents=True); f.write_text(json.dumps(task))
    manifest = {'corpus/Same/Same1.json': hashlib.sha256(f.read_bytes()).hexdigest()}
    assert load_conceptarc(tmp_path, manifest=manifest)[0].id == 'Same1'
    f.write_text(json.dumps(task).replace('[[2]]', '[[3]]', 1))
    with pytest.raises(ArcDataError, match='does not match the manifest'): load_conceptarc(tmp_path, manifest=manifest)
