"Property tests for trm_course.sudoku and trm_course.maze (heavier than the notebook checks, still a few seconds)."
import numpy as np
import pytest

from trm_course.sudoku import (generate_sudokus, shuffle_sudoku, is_valid_solution, solve_sudoku,
                               sudoku_tokens, BOX_SHAPES)
from trm_course.maze import bfs_lengths, bfs_distances, shortest_path, generate_mazes, MAZE_MIN_PATH, PATH, START, GOAL, WALL


@pytest.mark.parametrize('n', sorted(BOX_SHAPES))
def test_shuffle_keeps_sudoku_valid(n):
    rng = np.random.default_rng(n)
    d = generate_sudokus(4, n, 'minimal', seed=n)
    for q, a in zip(d['question'], d['answer']):
        seen = set()
        for _ in range(100):
            q2, a2 = shuffle_sudoku(q, a, rng)
            assert is_valid_solution(a2)
            assert ((q2 == 0) | (q2 == a2)).all() and (q2 > 0).sum() == (q > 0).sum()
            seen.add(a2.tobytes())
        assert len(seen) > 50                       # the shuffles really vary
        q2, a2 = shuffle_sudoku(q, a, rng)
        sols, _ = solve_sudoku(q2, limit=2)
        assert len(sols) == 1 and (sols[0] == a2).all()


def test_tokens_match_reference_layout():
    d = generate_sudokus(2, 9, 'minimal', seed=1)
    t = sudoku_tokens(d['question'])
    assert t.shape == (2, 81) and t.dtype == np.uint8
    assert ((t == 1) == (d['question'].reshape(2, -1) == 0)).all() and t.max() <= 10


def test_batched_bfs_matches_single():
    rng = np.random.default_rng(0)
    for size in (5, 17, 30, 63):
        G = rng.random((200, size, size)) > rng.uniform(0.2, 0.5)
        s, t = rng.integers(0, size * size, 200), rng.integers(0, size * size, 200)
        G.reshape(200, -1)[np.arange(200), s] = True; G.reshape(200, -1)[np.arange(200), t] = True
        ref = np.array([bfs_distances(G[i], s[i]).reshape(-1)[t[i]] for i in range(200)])
        assert (bfs_lengths(G, s, t) == ref).all()


def test_generated_mazes_are_consistent():
    m = generate_mazes(20, 15, seed=4)
    q, a, L = m['question'], m['answer'], m['length']
    assert (L > MAZE_MIN_PATH[15]).all()
    s, g = (q == START).reshape(20, -1).argmax(1), (q == GOAL).reshape(20, -1).argmax(1)
    assert (bfs_lengths(q != WALL, s, g) == L).all()
    assert ((a == PATH).sum((1, 2)) == L - 1).all()
    for i in range(3):
        p = shortest_path(q[i] != WALL, int(s[i]), int(g[i]))
        assert set(p[1:-1]) == set(np.flatnonzero(a[i].reshape(-1) == PATH))
