"""Property tests: every ARC augmentation and canvas step has an exact inverse."""
import itertools

import numpy as np
import pytest

from trm_course.arc_data import (CANVAS, LegacyStream, COLOUR0, DIHEDRAL_INVERSE, EOS, PAD, ArcGridError, aug_name, augment_grid,
                                 canvas_to_answer, check_grid, crop_canvas, dihedral, inverse_dihedral, inverse_perm,
                                 max_offset, pair_to_canvas, parse_aug_name, plan_task_copies, random_colour_perm,
                                 to_canvas, unaugment_grid)

RNG = np.random.RandomState(1234)
SHAPES = [(1, 1), (1, 30), (30, 1), (2, 3), (7, 5), (29, 30), (30, 30)]


def grids(n=40):
    for shape in SHAPES:
        yield RNG.randint(0, 10, shape).astype(np.uint8)
    for _ in range(n):
        yield RNG.randint(0, 10, RNG.randint(1, 31, 2)).astype(np.uint8)


@pytest.mark.parametrize('tid', range(8))
def test_dihedral_inverse(tid):
    for g in grids():
        t = dihedral(g, tid)
        assert t.shape == (g.shape[::-1] if tid in (1, 3, 6, 7) else g.shape)
        assert np.array_equal(inverse_dihedral(t, tid), g)
        assert np.array_equal(dihedral(t, DIHEDRAL_INVERSE[tid]), g)


def test_dihedral_is_the_group_d4():
    g = np.arange(20).reshape(4, 5)
    outs = {t: dihedral(g, t) for t in range(8)}
    assert len({(o.shape, o.tobytes()) for o in outs.values()}) == 8
    # closed under composition: every composition is one of the 8
    for a, b in itertools.product(range(8), repeat=2):
        c = dihedral(dihedral(g, a), b)
        assert any(c.shape == o.shape and np.array_equal(c, o) for o in outs.values())


def test_colour_perm_inverse():
    for _ in range(200):
        p = random_colour_perm(RNG)
        assert p[0] == 0 and sorted(p.tolist()) == list(range(10)) and p.dtype == np.uint8
        q = inverse_perm(p)
        assert np.array_equal(q[p], np.arange(10)) and np.array_equal(p[q], np.arange(10))


def test_augment_roundtrip_all_transforms_random_perms():
    for g in grids(20):
        for tid in range(8):
            p = random_colour_perm(RNG)
            a = augment_grid(g, tid, p)
            assert np.array_equal(unaugment_grid(a, tid, p), g)
            assert (a == 0).sum() == (g == 0).sum(), 'black stays black'
            # the name alone is enough to undo it
            name = aug_name('t', tid, p)
            task, back = canvas_to_answer(to_canvas(a).reshape(-1), name)
            assert task == 't' and np.array_equal(back, g)


def test_name_roundtrip_and_errors():
    for _ in range(50):
        tid, p = int(RNG.randint(8)), random_colour_perm(RNG)
        task, t2, p2 = parse_aug_name(aug_name('abc123', tid, p))
        assert task == 'abc123' and t2 == tid and np.array_equal(p2, p)
    for bad in ['x|||t1|||012', 'x|||1|||0123456789', 'x|||t1|||0123456788']:
        with pytest.raises(ValueError): parse_aug_name(bad)


def test_canvas_roundtrip_with_offsets():
    for g in grids():
        mr, mc = max_offset(g.shape, g.shape)
        for off in {(0, 0), (mr, mc), (RNG.randint(mr + 1), RNG.randint(mc + 1))}:
            c = to_canvas(g, off)
            h, w = g.shape
            assert c.dtype == np.uint8 and c.shape == (CANVAS, CANVAS)
            assert (c == EOS).sum() == (w if off[0] + h < CANVAS else 0) + (h if off[1] + w < CANVAS else 0)
            assert (c >= COLOUR0).sum() == g.size
            if off == (0, 0): assert np.array_equal(crop_canvas(c), g)
            # shifted back to the corner, the crop recovers the grid
            back = np.full_like(c, PAD); back[:CANVAS - off[0], :CANVAS - off[1]] = c[off[0]:, off[1]:]
            assert np.array_equal(crop_canvas(back), g)


def test_pair_canvas_same_offset():
    a, b = np.ones((3, 4), np.uint8), np.full((5, 2), 2, np.uint8)
    x, y = pair_to_canvas(a, b, (10, 20))
    x, y = x.reshape(30, 30), y.reshape(30, 30)
    assert x[10, 20] == 3 and y[10, 20] == 4 and x[9, 20] == y[9, 20] == x[10, 19] == y[10, 19] == PAD


def test_bad_grids():
    with pytest.raises(ArcGridError, match='31x2'): check_grid(np.zeros((31, 2)), 'task X')
    with pytest.raises(ArcGridError, match='colours'): check_grid([[0, 10]], 'task X')
    with pytest.raises(ArcGridError): check_grid(np.zeros((0, 3)), 'task X')
    with pytest.raises(ArcGridError): to_canvas(np.zeros((3, 3), np.uint8), (0, 28))


def test_copies_distinct_and_capped():
    pairs = [(RNG.randint(0, 10, (4, 5)).astype(np.uint8), RNG.randint(0, 10, (4, 5)).astype(np.uint8))]
    tids, perms = plan_task_copies(pairs, 300, LegacyStream(0))
    assert len(tids) == 301
    keys = {tuple(augment_grid(a, int(t), p).tobytes() + augment_grid(b, int(t), p).tobytes() for a, b in pairs)
            for t, p in zip(tids, perms)}
    assert len(keys) == 301
    # a fully symmetric one-colour task has no distinct copy other than its colour relabellings
    sym = [(np.ones((3, 3), np.uint8), np.ones((3, 3), np.uint8))]
    tids, _ = plan_task_copies(sym, 100, LegacyStream(0))
    assert len(tids) == 9, 'one colour (9 choices), every transform looks the same'
