"Property tests of trm_course.maze_experiments (chapter 18): path counting, path validity, the unique-maze generator."
import numpy as np

from trm_course.maze import WALL, OPEN, START, GOAL, PATH, bfs_distances, generate_mazes, shortest_path
from trm_course.maze import count_shortest_paths, generate_unique_mazes
from trm_course.maze_experiments import path_validity


def brute_count(q):
    "Number of shortest S->G paths by walking back from G over BFS layers (recursion, no shared code)."
    s = q.shape[0]; st, gl = int((q == START).argmax()), int((q == GOAL).argmax())
    d = bfs_distances(q != WALL, st).reshape(-1)
    if d[gl] < 0: return 0
    def ways(c):
        if c == st: return 1
        r, k = divmod(c, s)
        return sum(ways(rr * s + kk) for rr, kk in ((r - 1, k), (r + 1, k), (r, k - 1), (r, k + 1))
                   if 0 <= rr < s and 0 <= kk < s and d[rr * s + kk] == d[c] - 1)
    return ways(gl)


def test_count_matches_brute_force():
    d = generate_mazes(150, 5, min_len=2, seed=3, batch=500, goal='uniform')
    assert count_shortest_paths(d['question']).tolist() == [brute_count(q) for q in d['question']]


def test_unique_mazes_match_chapter04_answers_and_corruptions_are_invalid():
    g = generate_unique_mazes(200, 6, 6, seed=1)
    rng = np.random.default_rng(0)
    assert (g['length'] > 6).all() and (count_shortest_paths(g['question']) == 1).all()
    for q, a in zip(g['question'], g['answer']):
        s = q.shape[0]; path = shortest_path(q != WALL, int((q == START).argmax()), int((q == GOAL).argmax()))
        want = q.copy().reshape(-1); want[path[1:-1]] = PATH
        assert (want.reshape(s, s) == a).all()
    assert path_validity(g['question'], g['answer']).all()
    bad = g['answer'].copy()
    for b, q in zip(bad, g['question']):          # flip one open/path cell: a gap or a stray mark
        cells = np.argwhere((q == OPEN))
        r, c = cells[rng.integers(len(cells))]
        b[r, c] = OPEN if b[r, c] == PATH else PATH
    assert not path_validity(g['question'], bad).any()
