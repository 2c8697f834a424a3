"""Property-based tests ("fuzzing") of every reader of learner-supplied data in the course's own modules.

Each test builds well-formed input, mutates it (truncate, flip or insert bytes, wrong types and shapes, huge and
negative numbers, NaN, empty containers, duplicate keys, bytes that are not UTF-8) and checks ONE property:

    the reader returns the correct result (compared with an independent, obviously-correct reading of the same
    input), or it raises the course's own error type for that reader (a subclass of ValueError) whose message
    names the input (file path / task id / pair / line) -- never another exception type, never a wrong result.

Each reader's test draws from a strategy of valid inputs next to the damaged ones (a valid input must be accepted,
and what it loads is checked), and counts which branch every example reached (tests/fuzz_branches.py: printed at the
end of the module; benchmarks/results/fuzz_branches.txt records a run). Large inputs (a 10 MB CSV field, 100,000
rows), path traversal in archive members and task ids, deeply nested and non-finite configs have their own tests.

Profiles (seeded: `derandomize=True`, so every run tries the same examples):
    ci    (default)  120 examples per test; the whole file runs in well under a minute on one CPU core
    long             2,000 examples per test:  HYPOTHESIS_PROFILE=long pytest tests/test_fuzz_readers.py -n 0
"""
import csv, dataclasses, io, json, shutil, tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import example, given, strategies as st
from fuzz_branches import branch_report, check_shares, hit  # noqa: F401  (branch_report: a module fixture that reports the counts)

# the seeded profiles 'ci' (default) and 'long' are registered once, in conftest.py

from trm_course.sudoku import (SudokuDataError, format_sudoku, generate_sudokus, is_valid_solution, read_sudoku_csv,
                               shuffle_sudoku)
from trm_course.maze import MazeDataError, generate_mazes, maze_strings, read_maze_csv
from trm_course.arc import ArcDataError, load_arc_dir, load_kaggle, task_from_json, validate_grid
from trm_course.arc_data import (ARC_VOCAB, ArcGridError, aug_name, augment_grid, canvas_to_answer, crop_canvas, to_canvas)
from trm_course.dataset import (DatasetFormatError, read_identifiers, read_info, read_metadata, read_split,
                                split_from_arrays, write_dataset)

TMP = Path(tempfile.mkdtemp(prefix='trm-fuzz-'))


def _file(name: str, data: bytes) -> Path:
    "A fresh file for one example (a new folder each time: hypothesis shrinks by re-running)."
    d = Path(tempfile.mkdtemp(dir=TMP)); p = d / name
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------- byte-level mutations of a well-formed file
@st.composite
def mutations(draw, max_ops: int = 3):
    "A list of (operation, position fraction, bytes) to apply to a file; empty = the file as written."
    ops = []
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(['truncate', 'flip', 'insert', 'delete', 'ff', 'nul', 'dup_line', 'drop_line']))
        ops.append((op, draw(st.floats(0, 1)), draw(st.binary(min_size=1, max_size=4))))
    return ops


def mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op, frac, extra in ops:
        k = min(int(frac * len(b)), max(len(b) - 1, 0))
        if op == 'truncate': del b[k:]
        elif not b: b += extra
        elif op == 'flip': b[k] ^= extra[0] or 1
        elif op == 'insert': b[k:k] = extra
        elif op == 'delete': del b[k:k + len(extra)]
        elif op == 'ff': b[k] = 0xFF                     # not UTF-8
        elif op == 'nul': b[k] = 0
        else:
            lines = bytes(b).split(b'\n'); j = min(int(frac * len(lines)), len(lines) - 1)
            lines = lines[:j + 1] + lines[j:] if op == 'dup_line' else lines[:j] + lines[j + 1:]
            b = bytearray(b'\n'.join(lines))
    return bytes(b)


def expect_error(e: Exception, kind: type, *names: str):
    "The property's error half: the course's own type (a ValueError) whose message names the input."
    assert isinstance(e, kind) and isinstance(e, ValueError), f'{type(e).__name__}: {e}'
    msg = str(e)
    assert any(n in msg for n in names), f'message does not name the input {names}: {msg}'
    assert len(msg) > len(max(names, key=len)) + 5, f'message names nothing but the input: {msg}'


def _csv_bytes(header, rows) -> bytes:
    f = io.StringIO(newline='')
    w = csv.writer(f); w.writerow(header); w.writerows(rows)
    return f.getvalue().encode('utf-8')


def _independent_csv(data: bytes):
    "The oracle's reading: header and rows via the csv module, or None when the bytes are not a UTF-8 CSV."
    try: rows = list(csv.reader(io.StringIO(data.decode('utf-8'), newline='')))
    except (UnicodeDecodeError, csv.Error): return None
    return rows


# ---------------------------------------------------------------- Sudoku CSV
_S4 = generate_sudokus(6, 4, 'minimal', seed=0)
_S9 = generate_sudokus(2, 9, 'minimal', seed=1)


def _sudoku_value(text: str, blank_ok: bool):
    if blank_ok and text == '.': return 0
    return int(text)


@st.composite
def sudoku_csv(draw, valid: bool = False):
    "(n, file bytes, mutations, valid): a valid file (valid=True: rows, integer ratings, no mutation) or a damaged one."
    n = draw(st.sampled_from([4, 9]))
    d = _S4 if n == 4 else _S9
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    rows = []
    for i in draw(st.lists(st.integers(0, len(d['question']) - 1), min_size=1 if valid else 0, max_size=4)):
        q, a = shuffle_sudoku(d['question'][i], d['answer'][i], rng)
        rating = draw(st.integers(-5, 300).map(str)) if valid else draw(st.one_of(st.integers(-5, 300).map(str), st.sampled_from(['²', '١٢', 'nan', '', ' 7 ', str(10 ** 20),
                                                                                   '-9223372036854775809', '9223372036854775807', '1_0']),
                                st.text(max_size=4)))
        rows.append(['src', format_sudoku(q), format_sudoku(a), rating])
    data = _csv_bytes(['source', 'question', 'answer', 'rating'], rows)
    return n, data, [] if valid else draw(mutations()), valid


@given(st.one_of(sudoku_csv(valid=True), sudoku_csv()))
def test_fuzz_read_sudoku_csv(case):
    n, good, ops, valid = case
    data = mutate(good, ops)
    p = _file('s.csv', data)
    try: out = read_sudoku_csv(p, n=n)
    except SudokuDataError as e:
        assert not valid, f'a valid file was refused: {e}'
        hit('read_sudoku_csv', 'refused'); expect_error(e, SudokuDataError, str(p)); return
    hit('read_sudoku_csv', 'accepted, valid strategy' if valid else 'accepted, mutated strategy')
    # accepted: it must be exactly what an independent reading of the file says, and every board must be valid
    rows = _independent_csv(data)
    assert rows is not None and len(rows) >= 2 and len(rows[0]) == 4
    body = [r for r in rows[1:]]
    assert len(out['question']) == len(body) > 0
    for k, (src, q, a, r) in enumerate(body):
        assert out['source'][k] == src and int(out['rating'][k]) == int(r)
        assert out['question'][k].reshape(-1).tolist() == [_sudoku_value(c, True) for c in q]
        assert out['answer'][k].reshape(-1).tolist() == [_sudoku_value(c, False) for c in a]
    assert is_valid_solution(out['answer']).all()
    assert ((out['question'] == 0) | (out['question'] == out['answer'])).all()


def test_sudoku_known_crashes():
    "The five inputs of the bug report, one by one (the property above finds them too)."
    head = b'source,question,answer,rating\n'
    def one(rating): return _csv_bytes(['source', 'question', 'answer', 'rating'],
                                       [['s', format_sudoku(_S9['question'][0]), format_sudoku(_S9['answer'][0]), rating]])
    for data, want in ((head, 'no rows'), (one('3').replace(b'.', b'\xff', 1), 'line 2: not UTF-8'),
                       (one('²'), "line 2: rating '²' is not an integer"), (one(str(10 ** 20)), 'line 2: rating')):
        p = _file('k.csv', data)
        with pytest.raises(SudokuDataError) as e: read_sudoku_csv(p)
        assert str(p) in str(e.value) and want in str(e.value), e.value


# ---------------------------------------------------------------- large inputs
def test_large_csv_field_is_refused_quickly():
    "A 10 MB field (a broken export, a wrong file) is one clear error naming the file and line, for both CSV readers."
    big = 'x' * 10_000_000
    for reader, error, header in ((read_sudoku_csv, SudokuDataError, ['source', 'question', 'answer', 'rating']),
                                  (read_maze_csv, MazeDataError, ['source', 'q', 'a', 'rating'])):
        p = _file('big_field.csv', _csv_bytes(header, [['src', big, big, '3']]))
        with pytest.raises(error) as e: reader(p)
        expect_error(e.value, error, str(p))
        assert 'line 2' in str(e.value) and len(str(e.value)) < 500, str(e.value)[:600]


def test_100k_row_sudoku_csv_loads():
    "100,000 valid rows load, every one exactly (and within seconds: the reader is vectorised)."
    rows = [['s', format_sudoku(_S4['question'][i % 6]), format_sudoku(_S4['answer'][i % 6]), str(i % 50)] for i in range(100_000)]
    p = _file('many.csv', _csv_bytes(['source', 'question', 'answer', 'rating'], rows))
    out = read_sudoku_csv(p, n=4)
    assert len(out['question']) == 100_000 and out['rating'][-1] == (100_000 - 1) % 50
    assert all(np.array_equal(out['answer'][k], _S4['answer'][k % 6].reshape(out['answer'][k].shape)) for k in (0, 7, 99_999))


def test_10k_row_maze_csv_loads():
    "Many valid maze rows load exactly (10,000: each maze is checked for a shortest path, which costs more per row)."
    qs, as_ = maze_strings(_M['question']), maze_strings(_M['answer'])
    p = _file('many.csv', _csv_bytes(['source', 'q', 'a', 'rating'], [['g', qs[i % 3], as_[i % 3], '1'] for i in range(10_000)]))
    out = read_maze_csv(p)
    assert len(out['question']) == 10_000 and np.array_equal(out['answer'][9_999].reshape(-1), _M['answer'][9_999 % 3].reshape(-1))


# ---------------------------------------------------------------- path traversal: archive members and task ids
MEMBER_PARTS = st.sampled_from(['..', '.', '', 'corpus', 'Same', 'Same1.json', 'evil.json', '/', 'a\\..\\b', '~'])


@given(st.lists(st.lists(MEMBER_PARTS, min_size=1, max_size=6).map('/'.join), min_size=1, max_size=6))
def test_fuzz_conceptarc_zip_members_stay_inside(members):
    "The ConceptARC unzipper writes only `<top>/corpus/**.json` members, only inside its folder (the zip-slip guard)."
    import zipfile
    from trm_course.arc import _extract_corpus
    base = Path(tempfile.mkdtemp(dir=TMP)); zpath = base / 'c.zip'
    members = list(dict.fromkeys(['ConceptARC-main/corpus/Same/Same1.json'] + members))   # no duplicate names
    with zipfile.ZipFile(zpath, 'w') as z:
        for k, m in enumerate(members):
            z.writestr(zipfile.ZipInfo(m), f'{{"k": {k}}}')      # ZipInfo keeps the name as given ('..', leading '/')
    dest = base / 'cache' / 'ConceptARC-main'; dest.parent.mkdir()
    _extract_corpus(zpath, dest)
    written = sorted(p for p in base.rglob('*') if p.is_file())
    assert all(p == zpath or dest.resolve() in p.resolve().parents for p in written), written
    assert (dest / 'corpus' / 'Same' / 'Same1.json').is_file()
    for p in written:
        if p != zpath: assert p.relative_to(dest).parts[0] == 'corpus' and p.suffix == '.json' and '..' not in p.parts
    hit('_extract_corpus', 'accepted')


TRAVERSAL_IDS = ['../../etc/passwd', '/abs/task', 'a/../../b', '..', 'C:\\x', 'a\\..\\..\\b', 'nul\x00byte', '~/x']


@pytest.mark.parametrize('tid', TRAVERSAL_IDS)
def test_task_ids_are_names_not_paths(tid, tmp_path):
    """A task id that looks like a path stays an opaque name: the Kaggle reader keeps it, a submission written for it
    is one file in the chosen folder, and it reads back the same."""
    from trm_course.arc_eval import load_submission, write_submission
    task = {'train': [{'input': [[1]], 'output': [[2]]}], 'test': [{'input': [[1]]}]}
    cpath = _file('challenges.json', json.dumps({tid: task}).encode())
    spath = _file('solutions.json', json.dumps({tid: [[[2]]]}).encode())
    (t,) = load_kaggle(cpath, spath)
    assert t.id == tid
    out = tmp_path / 'sub'; out.mkdir()
    sub = {tid: [{'attempt_1': [[2]], 'attempt_2': [[1]]}]}
    p = write_submission(sub, out / 'submission.json', tasks=[t])
    assert sorted(x.name for x in tmp_path.rglob('*')) == ['sub', 'submission.json'] and p.parent == out
    assert load_submission(p) == sub


# ---------------------------------------------------------------- Maze CSV
_M = generate_mazes(3, size=9, seed=0)


@st.composite
def maze_csv(draw, valid: bool = False):
    "(file bytes, mutations, valid): a valid file (rows, integer ratings, no mutation) or a damaged one."
    idx = draw(st.lists(st.integers(0, 2), min_size=1 if valid else 0, max_size=3))
    qs, as_ = maze_strings(_M['question']), maze_strings(_M['answer'])
    rating = st.integers(-3, 200).map(str) if valid else \
        st.one_of(st.integers(-3, 200).map(str), st.sampled_from(['²', str(10 ** 20), 'x', '']))
    rows = [['gen', qs[i], as_[i], draw(rating)] for i in idx]
    return _csv_bytes(['source', 'q', 'a', 'rating'], rows), [] if valid else draw(mutations()), valid


@given(st.one_of(maze_csv(valid=True), maze_csv()))
def test_fuzz_read_maze_csv(case):
    good, ops, valid = case
    data = mutate(good, ops)
    p = _file('m.csv', data)
    try: out = read_maze_csv(p)
    except MazeDataError as e:
        assert not valid, f'a valid file was refused: {e}'
        hit('read_maze_csv', 'refused'); expect_error(e, MazeDataError, str(p)); return
    hit('read_maze_csv', 'accepted, valid strategy' if valid else 'accepted, mutated strategy')
    rows = _independent_csv(data)
    assert rows is not None and len(rows) >= 2
    lut = {c: k + 1 for k, c in enumerate('# SGo')}
    for k, (src, q, a, r) in enumerate(rows[1:]):
        assert out['question'][k].reshape(-1).tolist() == [lut[c] for c in q]
        assert out['answer'][k].reshape(-1).tolist() == [lut[c] for c in a]
        assert int(out['rating'][k]) == int(r)
        assert (out['answer'][k] == 5).sum() == out['length'][k] - 1        # the path has L - 1 'o' cells


# ---------------------------------------------------------------- ARC task JSON (dicts), folder and Kaggle readers
grids = st.integers(1, 4).flatmap(lambda h: st.integers(1, 4).flatmap(
    lambda w: st.lists(st.lists(st.integers(0, 9), min_size=w, max_size=w), min_size=h, max_size=h)))
BAD_VALUES = st.sampled_from([10, -1, 10 ** 20, -10 ** 20, 2 ** 63, 1.5, 2.0, float('nan'), float('inf'), '3', None, True,
                              [], [1], {}, np.int64(3), np.uint8(200)])


@st.composite
def arc_task(draw):
    pair = lambda out: st.builds(lambda i, o: {'input': i, 'output': o} if out else {'input': i}, grids, grids)
    return {'train': draw(st.lists(pair(True), min_size=1, max_size=3)),
            'test': draw(st.lists(st.one_of(pair(True), pair(False)), min_size=1, max_size=2))}


@st.composite
def mutated_task(draw):
    task = json.loads(json.dumps(draw(arc_task())))
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(['cell', 'row', 'grid', 'pair', 'split', 'top']))
        split = draw(st.sampled_from(['train', 'test']))
        pairs = task.get(split) if isinstance(task, dict) else None
        if not isinstance(pairs, list) or not pairs or not isinstance(pairs[0], dict): continue
        p = pairs[draw(st.integers(0, len(pairs) - 1))]
        side = draw(st.sampled_from(['input', 'output']))
        g = p.get(side)
        if kind == 'cell' and isinstance(g, list) and g and isinstance(g[0], list) and g[0]:
            g[draw(st.integers(0, len(g) - 1))][0] = draw(BAD_VALUES)
        elif kind == 'row' and isinstance(g, list) and g:
            g[draw(st.integers(0, len(g) - 1))] = draw(st.sampled_from([[], [0] * 31, 'row', None, [[0]]]))
        elif kind == 'grid':
            p[side] = draw(st.sampled_from([[], [[]], [[0]] * 31, [[0] * 31], None, 'grid', 7, np.zeros((2, 2, 2)).tolist()]))
        elif kind == 'pair':
            pairs[0] = draw(st.sampled_from([None, [], {}, {'output': [[1]]}, 'pair']))
        elif kind == 'split':
            task[split] = draw(st.sampled_from([[], None, {}, 'x']))
        else:
            task = draw(st.sampled_from([task, [task], None, 'task', {}]))
    return task


def _same(grid_array, grid_list) -> bool:
    return isinstance(grid_array, np.ndarray) and grid_array.dtype == np.uint8 and grid_array.tolist() == grid_list


@given(mutated_task(), st.text(min_size=1, max_size=8, alphabet='abcdef0123'))
def test_fuzz_task_from_json(task, tid):
    try: t = task_from_json(task, tid)
    except ArcDataError as e:
        hit('task_from_json', 'refused'); expect_error(e, ArcDataError, f'task {tid}'); return
    hit('task_from_json', 'accepted')
    # accepted: every grid exactly as given, colours 0..9, every demonstration has an output
    assert isinstance(task, dict) and t.id == tid and len(t.train) == len(task['train']) and len(t.test) == len(task['test'])
    for (i, o), p in zip(t.train, task['train']):
        assert _same(i, p['input']) and _same(o, p['output'])
    for (i, o), p in zip(t.test, task['test']):
        assert _same(i, p['input']) and (o is None if p.get('output') is None else _same(o, p['output']))


@given(st.one_of(grids, st.lists(st.lists(BAD_VALUES, min_size=1, max_size=3), min_size=1, max_size=3),
                 st.builds(np.array, grids), st.builds(lambda g: np.array(g, np.float64), grids),
                 st.sampled_from([np.zeros((0, 3), int), np.zeros((31, 2), int), np.array(['a']), np.array([[None]]),
                                  np.array([[True]]), np.array([[300]], np.int64)])))
def test_fuzz_validate_grid(grid):
    try: g = validate_grid(grid, 'task t1, train pair 0, input')
    except ArcDataError as e:
        hit('validate_grid', 'refused'); expect_error(e, ArcDataError, 'task t1, train pair 0, input'); return
    hit('validate_grid', 'accepted')
    want = np.asarray(grid)
    assert g.dtype == np.uint8 and g.shape == want.shape and (g == want).all() and g.max() <= 9


@given(st.lists(arc_task(), min_size=1, max_size=3), mutations(2), st.integers(0, 2))
def test_fuzz_load_arc_dir(tasks, ops, which):
    root = Path(tempfile.mkdtemp(dir=TMP))
    (root / 'training').mkdir()
    texts = [json.dumps(t).encode() for t in tasks]
    which = min(which, len(texts) - 1)
    texts[which] = mutate(texts[which], ops)
    paths = []
    for k, b in enumerate(texts):
        p = root / 'training' / f'task{k}.json'; p.write_bytes(b); paths.append(p)
    try: out = load_arc_dir(root)
    except ArcDataError as e:
        assert ops, f'a valid folder was refused: {e}'
        hit('load_arc_dir', 'refused'); expect_error(e, ArcDataError, str(paths[which])); return
    hit('load_arc_dir', 'accepted, unmutated' if not ops else 'accepted, mutated')
    got = out['training'][which]
    obj = json.loads(texts[which])
    assert got.to_json() == {'train': obj['train'], 'test': [{'input': p['input']} | ({'output': p['output']} if p.get('output') is not None else {})
                                                            for p in obj['test']]}


def test_arc_json_duplicate_key():
    root = Path(tempfile.mkdtemp(dir=TMP)); (root / 'training').mkdir()
    p = root / 'training' / 'dup.json'
    p.write_text('{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}], "train": []}')
    with pytest.raises(ArcDataError, match="'train' appears twice"): load_arc_dir(root)


@given(st.dictionaries(st.text('abc123', min_size=1, max_size=4), arc_task(), min_size=1, max_size=3), st.data())
def test_fuzz_load_kaggle(tasks, data):
    chal = {k: {'train': t['train'], 'test': [{'input': p['input']} for p in t['test']]} for k, t in tasks.items()}
    sols = {k: [p.get('output', [[0]]) for p in t['test']] for k, t in tasks.items()}
    kind = data.draw(st.sampled_from(['ok', 'drop', 'extra', 'count', 'grid', 'bytes', 'type']))
    tid = sorted(sols)[0]
    if kind == 'drop': del sols[tid]
    elif kind == 'extra': sols['zzz'] = [[[1]]]
    elif kind == 'count': sols[tid] = sols[tid] + [[[1]]]
    elif kind == 'grid': sols[tid] = [data.draw(st.sampled_from([[[10]], [[]], [[1], [1, 2]], 'x', [[float('nan')]]]))] * len(sols[tid])
    elif kind == 'type': sols[tid] = data.draw(st.sampled_from([None, 'x', {}, 3]))
    cpath = _file('challenges.json', json.dumps(chal).encode())
    sbytes = json.dumps(sols).encode()
    if kind == 'bytes': sbytes = mutate(sbytes, data.draw(mutations(2)))
    spath = _file('solutions.json', sbytes)
    try: out = load_kaggle(cpath, spath)
    except ArcDataError as e:
        assert kind != 'ok', f'a valid pair of files was refused: {e}'
        hit('load_kaggle', 'refused'); expect_error(e, ArcDataError, str(cpath), str(spath)); return
    hit('load_kaggle', f'accepted, {"valid" if kind == "ok" else "damaged"} strategy')
    parsed = json.loads(sbytes)
    assert [t.id for t in out] == sorted(chal)
    for t in out:
        assert [i.tolist() for i, _ in t.test] == [p['input'] for p in chal[t.id]['test']]
        assert [o.tolist() for _, o in t.test] == parsed[t.id]


# ---------------------------------------------------------------- the canvas: to_canvas, crop_canvas, canvas_to_answer
arrays = st.one_of(
    st.builds(np.array, grids),
    st.builds(lambda g, d: np.array(g).astype(d), grids, st.sampled_from([np.uint8, np.int8, np.int64, np.float32, np.uint64])),
    st.builds(lambda h, w, v: np.full((h, w), v), st.integers(0, 32), st.integers(0, 32), st.integers(-3, 13)),
    st.sampled_from([np.array([[-1, 3]]), np.array([[10]]), np.array([[1.5]]), np.array([[np.nan]]), np.array(5),
                     np.zeros((2, 2, 2), int), np.array([['a']]), np.array([[True]]), np.array([[2 ** 40]])]),
    st.lists(st.lists(st.integers(-2, 11), min_size=1, max_size=3), min_size=1, max_size=3))
offsets = st.one_of(st.tuples(st.integers(-2, 31), st.integers(-2, 31)), st.sampled_from([(0.5, 0), (0,), (1, 2, 3), ('a', 0), (np.int64(2), 1)]))


@given(arrays, offsets)
def test_fuzz_to_canvas(grid, offset):
    try: cv = to_canvas(grid, offset)
    except ArcGridError as e:
        hit('to_canvas', 'refused'); expect_error(e, ArcGridError, 'grid', 'offset'); return
    hit('to_canvas', 'accepted')
    g = np.asarray(grid); r, c = int(offset[0]), int(offset[1])
    assert g.ndim == 2 and 1 <= g.shape[0] <= 30 and 1 <= g.shape[1] <= 30 and g.min() >= 0 and g.max() <= 9
    assert cv.shape == (30, 30) and cv.dtype == np.uint8 and cv.max() < ARC_VOCAB
    assert (cv[r:r + g.shape[0], c:c + g.shape[1]] == g + 2).all()
    if (r, c) == (0, 0): assert np.array_equal(crop_canvas(cv), g)


@st.composite
def canvas_and_name(draw):
    g = np.array(draw(grids), np.uint8)
    tid, perm = draw(st.integers(0, 7)), np.array([0] + list(draw(st.permutations(range(1, 10)))), np.uint8)
    tokens = to_canvas(augment_grid(g, tid, perm)).reshape(-1)
    name = aug_name('task1', tid, perm)
    kind = draw(st.sampled_from(['ok', 'ok', 'tokens', 'name', 'shape', 'dtype']))
    if kind == 'tokens': tokens = tokens.astype(np.int64); tokens[draw(st.integers(0, 899))] = draw(st.sampled_from([-1, 12, 255, 10 ** 12]))
    elif kind == 'name': name = draw(st.sampled_from(['task1|||t8|||0123456789', 'task1|||t-1|||0123456789', 'task1|||t1|||012345678',
                                                      'task1|||t1|||0123456788', '|||t1|||0123456789', 'task1|||t٣|||0123456789',
                                                      'a|||b|||t1|||0123456789', 7, None]))
    elif kind == 'shape': tokens = tokens[:draw(st.integers(0, 899))]
    elif kind == 'dtype': tokens = tokens.astype(np.float64) + 0.5
    return tokens, name, g, kind


@given(canvas_and_name())
def test_fuzz_canvas_to_answer(case):
    tokens, name, g, kind = case
    try: task, back = canvas_to_answer(tokens, name)
    except ArcGridError as e:
        assert kind != 'ok', f'a valid canvas was refused: {e}'
        hit('canvas_to_answer', 'refused'); expect_error(e, ArcGridError, repr(name), 'canvas'); return
    hit('canvas_to_answer', f'accepted, {kind} strategy')
    assert kind in ('ok', 'tokens'), f'{kind} accepted'
    if kind == 'ok': assert task == 'task1' and np.array_equal(back, g)
    assert back.dtype == np.uint8 and (back.size == 0 or back.max() <= 9)


# ---------------------------------------------------------------- the dataset folder
def _toy_dataset() -> Path:
    x = np.array([[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]], np.uint8)
    s = split_from_arrays(x, x[:, ::-1].copy(), [2, 1], vocab_size=7, identifiers=[1, 1, 2], num_puzzle_identifiers=3)
    root = Path(tempfile.mkdtemp(dir=TMP)) / 'toy'
    return write_dataset(root, {'train': s, 'test': s}, ['<blank>', 'a', 'b'], info={'recipe': 'toy'})


_GOOD = _toy_dataset()
_FILES = sorted(str(p.relative_to(_GOOD)) for p in _GOOD.rglob('*') if p.is_file())


@st.composite
def damaged_dataset(draw):
    rel = draw(st.sampled_from(_FILES))
    how = draw(st.sampled_from(['bytes', 'json', 'delete', 'none']))   # 'none': the folder as written, must load
    return rel, how, draw(mutations(2)), draw(st.sampled_from(
        [None, -1, 2 ** 70, 1.5, 'x', [], {}, True, float('nan')])), draw(st.sampled_from(['vocab_size', 'seq_len', 'pad_id',
        'ignore_label_id', 'sets', 'num_puzzle_identifiers', 'total_groups', 'total_puzzles', 'blank_identifier_id']))


@given(damaged_dataset())
@example(('test/all__group_indices.npy', 'bytes', [('flip', 0.4296875, b'\x00')], None, 'vocab_size'))  # numpy: SyntaxError
def test_fuzz_read_dataset(case):
    rel, how, ops, value, key = case
    root = Path(tempfile.mkdtemp(dir=TMP)) / 'toy'
    shutil.copytree(_GOOD, root)
    p = root / rel
    if how == 'none': pass
    elif how == 'delete': p.unlink()
    elif how == 'json' and p.suffix == '.json':
        obj = json.loads(p.read_text())
        if isinstance(obj, dict): obj[key] = value
        elif isinstance(obj, list) and obj: obj[0] = value
        p.write_text(json.dumps(obj))
    else: p.write_bytes(mutate(p.read_bytes(), ops))
    try:
        splits = {s: read_split(root, s, mmap=False) for s in ('train', 'test')}
        names, info = read_identifiers(root), read_info(root)
        metas = {s: read_metadata(root, s) for s in ('train', 'test')}
    except DatasetFormatError as e:
        assert how != 'none', f'a valid dataset folder was refused: {e}'
        hit('read_split/read_metadata/...', 'refused'); expect_error(e, DatasetFormatError, str(p), str(p.parent)); return
    hit('read_split/read_metadata/...', 'accepted, unchanged' if how == 'none' else 'accepted, damaged')
    # accepted: consistent arrays, a list of names, an info dict (the format has no checksums, so a flipped token
    # that is still inside the vocabulary cannot be noticed; everything structural must be)
    for s, sp in splits.items():
        assert sp.inputs.shape == sp.labels.shape and sp.puzzle_indices[-1] == sp.n_examples
        assert sp.group_indices[-1] == sp.n_puzzles and sp.inputs.max() < metas[s]['vocab_size']
        assert sp.puzzle_identifiers.min() >= 0 and sp.puzzle_identifiers.max() < metas[s]['num_puzzle_identifiers']
    assert isinstance(names, list) and all(isinstance(n, str) for n in names) and isinstance(info, dict)


# ---------------------------------------------------------------- the reference-checkpoint loader
def _tiny_reference_checkpoint() -> tuple[Path, dict, dict, object]:
    "(checkpoint path, its state dict, the model's own state dict, its config): built at import, so a failure here is an error."
    from trm_course.network import TRMConfig
    from trm_course.recursion import TRM
    from trm_course.reference import save_reference_checkpoint
    torch.manual_seed(0)
    cfg = TRMConfig(vocab_size=6, seq_len=4, hidden_size=8, num_heads=2, expansion=2.0, layers=1, T=1, n=1, N_sup=2,
                    puzzle_emb_ndim=0, puzzle_emb_len=0, num_puzzle_identifiers=1, pos_encodings='none', mlp_t=True)
    model = TRM(cfg)
    path = save_reference_checkpoint(model, Path(tempfile.mkdtemp(dir=TMP)) / 'run' / 'step_5')
    return (path, {k: v.clone() for k, v in torch.load(path, weights_only=True).items()},
            {k: v.clone() for k, v in model.state_dict().items()}, cfg)


_REF, _REF_SD, _MODEL_SD, _REF_CFG = _tiny_reference_checkpoint()


@given(st.one_of(st.just([]), mutations(3)), st.booleans())
@example([('flip', 0.5, b'\x00'), ('dup_line', 1.0, b'\x00'), ('truncate', 1.0, b'\x00')], False)  # zipfile: no archive; torch.load: loads
def test_fuzz_reference_checkpoint(ops, whole_model):
    from trm_course.reference import ReferenceCheckpointError, load_reference_checkpoint, read_reference_checkpoint
    run = Path(tempfile.mkdtemp(dir=TMP)) / 'run'
    shutil.copytree(_REF.parent, run)
    target = run / ('all_config.yaml' if whole_model and ops and ops[0][1] < 0.3 else 'step_5')
    target.write_bytes(mutate(target.read_bytes(), ops))
    reader = 'load_reference_checkpoint' if whole_model else 'read_reference_checkpoint'
    try:
        if whole_model: model = load_reference_checkpoint(run); sd = model.state_dict()
        else: sd = read_reference_checkpoint(run / 'step_5')
    except ReferenceCheckpointError as e:
        assert ops, f'the checkpoint as written was refused: {e}'
        hit(reader, 'refused'); expect_error(e, ReferenceCheckpointError, str(run)); return
    hit(reader, 'accepted, as written' if not ops else f'accepted, {target.name} damaged')
    if not whole_model:   # accepted: bit for bit the saved tensors (a flipped tensor byte fails its CRC-32)
        assert sd.keys() == _REF_SD.keys() and all(torch.equal(sd[k], _REF_SD[k]) for k in sd)
    else:   # accepted: the saved weights in the course's names, bit for bit (a damaged config may change a setting, never
            # a weight); the two initial states are stored in the reference's bfloat16, so they come back rounded to it
        same = lambda k: torch.equal(sd[k], _MODEL_SD[k] if k not in ('y_init', 'z_init') else _MODEL_SD[k].bfloat16().float())
        assert sd.keys() == _MODEL_SD.keys() and all(same(k) for k in sd), [k for k in sd if not same(k)]
        if not ops:
            assert dataclasses.replace(model.cfg, forward_dtype=None) == dataclasses.replace(_REF_CFG, forward_dtype=None), (model.cfg, _REF_CFG)


@st.composite
def tiny_trm(draw):
    "(TRMConfig keyword arguments, seed) of a small valid TRM: the strategy of valid checkpoints."
    mlp_t, emb = draw(st.booleans()), draw(st.sampled_from([0, 8]))
    kw = dict(vocab_size=draw(st.integers(3, 8)), seq_len=draw(st.integers(2, 5)), hidden_size=8, num_heads=2,
              expansion=draw(st.sampled_from([1.0, 2.0, 4.0])), layers=draw(st.integers(1, 2)), T=draw(st.integers(1, 3)),
              n=draw(st.integers(1, 3)), N_sup=draw(st.integers(1, 4)), puzzle_emb_ndim=emb, puzzle_emb_len=1 if emb else 0,
              num_puzzle_identifiers=draw(st.integers(1, 4)), mlp_t=mlp_t,
              pos_encodings='none' if mlp_t else draw(st.sampled_from(['rope', 'learned', 'none'])))
    return kw, draw(st.integers(0, 2 ** 16))


@given(tiny_trm(), st.booleans())
def test_reference_checkpoint_valid_inputs(case, whole_model):
    "Valid checkpoints of varied small models are accepted, and give back what was saved."
    from trm_course.network import TRMConfig
    from trm_course.recursion import TRM
    from trm_course.reference import load_reference_checkpoint, read_reference_checkpoint, save_reference_checkpoint
    kw, seed = case
    torch.manual_seed(seed)
    model = TRM(TRMConfig(**kw))
    path = save_reference_checkpoint(model, Path(tempfile.mkdtemp(dir=TMP)) / 'run' / 'step_7')
    if whole_model:
        got = load_reference_checkpoint(path.parent)
        want = model.state_dict()
        same = lambda k: torch.equal(got.state_dict()[k], want[k] if k not in ('y_init', 'z_init') else want[k].bfloat16().float())
        assert got.state_dict().keys() == want.keys() and all(same(k) for k in want), [k for k in want if not same(k)]
        assert dataclasses.replace(got.cfg, forward_dtype=None) == dataclasses.replace(model.cfg, forward_dtype=None)
    else:
        sd = read_reference_checkpoint(path)
        saved = torch.load(path, weights_only=True)
        assert sd.keys() == saved.keys() and all(torch.equal(sd[k], saved[k]) for k in sd)
    hit('load_reference_checkpoint' if whole_model else 'read_reference_checkpoint', 'accepted, valid strategy')


def test_reference_checkpoint_nan_refused():
    from trm_course.reference import ReferenceCheckpointError, read_reference_checkpoint
    sd = dict(_REF_SD); k = next(k for k, v in sd.items() if v.is_floating_point())
    sd[k] = sd[k].clone(); sd[k].view(-1)[0] = float('nan')
    p = Path(tempfile.mkdtemp(dir=TMP)) / 'step_1'; torch.save(sd, p)
    with pytest.raises(ReferenceCheckpointError, match='NaN'): read_reference_checkpoint(p)


def _run_with_config(text: str) -> Path:
    run = Path(tempfile.mkdtemp(dir=TMP)) / 'run'
    shutil.copytree(_REF.parent, run)
    (run / 'all_config.yaml').write_text(text)
    return run


@pytest.mark.parametrize('doc', ['arch: ' + '[' * 50_000 + ']' * 50_000,          # deeper than the parser's recursion
                                 'arch: ' + '[' * 40 + '1' + ']' * 40,               # parses, far deeper than a config
                                 'arch: &a [*a]',                                    # an anchor that contains itself
                                 'a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n'
                                 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\narch: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'],
                         ids=['deep-50000', 'deep-40', 'self-reference', 'alias-bomb'])
def test_reference_config_nesting_refused(doc):
    from trm_course.reference import ReferenceCheckpointError, load_reference_checkpoint
    run = _run_with_config(doc)
    with pytest.raises(ReferenceCheckpointError) as e: load_reference_checkpoint(run)
    expect_error(e.value, ReferenceCheckpointError, str(run))


def _numeric_arch_fields() -> list[str]:
    import yaml
    arch = yaml.safe_load((_REF.parent / 'all_config.yaml').read_text())['arch']
    return sorted(k for k, v in arch.items() if isinstance(v, (int, float)) and not isinstance(v, bool))


@pytest.mark.parametrize('value', ['.nan', '.inf', '-.inf', '1e400'])
@pytest.mark.parametrize('field', _numeric_arch_fields())
def test_reference_config_non_finite_numbers(field, value):
    """Every numeric field of the reference config, set to NaN or +-inf: one ReferenceCheckpointError naming the
    run, or (where the value is harmless to the model) a model whose forward pass stays finite."""
    import re as _re
    from trm_course.reference import ReferenceCheckpointError, load_reference_checkpoint
    text = (_REF.parent / 'all_config.yaml').read_text()
    new, n = _re.subn(rf'(?m)^(\s+{field}): .*$', rf'\1: {value}', text)
    assert n == 1, field
    run = _run_with_config(new)
    try: model = load_reference_checkpoint(run, forward_dtype='float32')
    except ReferenceCheckpointError as e:
        hit('reference config non-finite fields', 'refused'); expect_error(e, ReferenceCheckpointError, str(run)); return
    hit('reference config non-finite fields', 'accepted')
    x = torch.randint(1, model.cfg.vocab_size, (2, model.cfg.seq_len))
    y, z = model.initial_carry(2)
    with torch.no_grad(): _, _, logits, q, _ = model(y, z, x, torch.zeros(2, dtype=torch.long))
    assert torch.isfinite(logits).all() and torch.isfinite(q).all(), f'{field}: {value} accepted, but the model computes NaN/inf'


@given(st.one_of(st.binary(max_size=64), st.sampled_from([b'', b'PK\x03\x04', b'\x80\x02}q\x00.'])))
def test_fuzz_load_reference_file(data):
    from trm_course.reference import ReferenceFileError, load_reference_file
    p = _file('ref.pt', data)
    with pytest.raises(ReferenceFileError) as e: load_reference_file(p)
    expect_error(e.value, ReferenceFileError, str(p))


def test_zz_every_reader_reaches_both_branches():
    "Runs last in this module (pytest keeps file order; xdist --dist loadscope keeps a module on one worker)."
    check_shares(min_accepted=0.1, min_refused=0.1, only_refuses=('reference config non-finite fields',),
                 only_accepts=('_extract_corpus',))   # the unzipper skips members, it never refuses an archive
