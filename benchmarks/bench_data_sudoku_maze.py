"""Data-generation speed for chapters 03 (Sudoku) and 04 (Maze); about 7 minutes on a 2-core CPU.

    .venv/bin/python benchmarks/bench_data_sudoku_maze.py [--out benchmarks/results/data_sudoku_maze.txt]

Measures: hard 30x30 mazes (shortest path > 110 moves) per minute for 1,000 mazes; the exact-rejection acceptance
rate; Sudoku puzzles per second per size and difficulty; the rating distribution reached by the 9x9 'hard' mode
(our rating = guesses of our solver; the real Sudoku-Extreme hard part averages about 22 tdoku guesses).
"""
import argparse, os, platform, time
import numpy as np
from trm_course.maze import generate_mazes, bfs_lengths, _random_grids
from trm_course.sudoku import generate_sudokus, count_solutions, is_valid_solution

def stats(x):
    x = np.asarray(x)
    return (f'n={len(x)} mean={x.mean():.1f} median={np.median(x):.0f} p10={np.percentile(x, 10):.0f} '
            f'p25={np.percentile(x, 25):.0f} p75={np.percentile(x, 75):.0f} p90={np.percentile(x, 90):.0f} '
            f'min={x.min()} max={x.max()}')

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--out', default=None)
    ap.add_argument('--mazes', type=int, default=1000); ap.add_argument('--hard', type=int, default=8)
    a = ap.parse_args()
    lines = []
    def say(s=''):
        print(s, flush=True); lines.append(s)
    say(f'# bench_data_sudoku_maze  {time.strftime("%Y-%m-%d %H:%M")}  python {platform.python_version()}  '
        f'{os.cpu_count()} CPUs  numpy {np.__version__}  load average {os.getloadavg()[0]:.1f}')
    T0 = time.perf_counter()
    # --- mazes
    t = time.perf_counter(); m = generate_mazes(a.mazes, 30, seed=0); dt = time.perf_counter() - t
    say(f"maze 30x30 goal='far': {a.mazes} mazes with path > 110 in {dt:.1f}s = {a.mazes / dt * 60:.0f}/min "
        f"({m['grids_tried']:,} grids tried, {a.mazes / m['grids_tried']:.2e} kept per grid)")
    say(f"  path length (moves): {stats(m['length'])}")
    rng = np.random.default_rng(1); B = 200_000; n_ok = 0; Ls = []
    t = time.perf_counter()
    for _ in range(5):
        o = _random_grids(B // 5, 30, rng, (0.3, 0.5)); s = rng.integers(0, 900, B // 5); g = rng.integers(0, 900, B // 5)
        ok = o.reshape(len(o), -1)[np.arange(len(o)), s] & o.reshape(len(o), -1)[np.arange(len(o)), g] & (s != g)
        Ls.append(bfs_lengths(o[ok], s[ok], g[ok])); n_ok += ok.sum()
    L = np.concatenate(Ls); dt = time.perf_counter() - t
    say(f"maze 30x30 exact rejection (uniform open start and goal): {n_ok:,} triples in {dt:.1f}s, connected "
        f"{(L > 0).mean():.1%}, L>80: {(L > 80).sum()}, L>100: {(L > 100).sum()}, L>110: {(L > 110).sum()}, max {L.max()}")
    for size in (9, 15):
        t = time.perf_counter(); s = generate_mazes(200, size, seed=size); dt = time.perf_counter() - t
        say(f"maze {size}x{size} goal='far' path > {s['min_len']}: {200 / dt:.1f} mazes/s")
    # --- sudoku
    for n, counts in ((4, 400), (6, 100), (9, 30)):
        for diff in ('easy', 'minimal'):
            t = time.perf_counter(); d = generate_sudokus(counts, n, diff, seed=n); dt = time.perf_counter() - t
            assert is_valid_solution(d['answer']).all()
            say(f'sudoku {n}x{n} {diff:8s}: {counts / dt:7.1f} puzzles/s, clues {(d["question"] > 0).sum((1, 2)).mean():.1f}, '
                f'rating mean {d["rating"].mean():.2f} max {d["rating"].max()}')
    d = generate_sudokus(200, 9, 'minimal', seed=99)
    say(f'sudoku 9x9 minimal rating: {stats(d["rating"])}')
    t = time.perf_counter(); h = generate_sudokus(a.hard, 9, 'hard', seed=5, min_rating=20, max_steps=300); dt = time.perf_counter() - t
    assert all(count_solutions(q) == 1 for q in h['question'])
    say(f"sudoku 9x9 hard (min_rating=20, max_steps=300): {a.hard} puzzles in {dt:.0f}s = {a.hard / dt:.3f} puzzles/s "
        f"({dt / a.hard:.1f} s/puzzle), clues {(h['question'] > 0).sum((1, 2)).mean():.1f}")
    say(f"  hard rating: {stats(h['rating'])}   (real Sudoku-Extreme hard part: mean about 22 tdoku guesses)")
    say(f'total {time.perf_counter() - T0:.0f}s (load average now {os.getloadavg()[0]:.1f}; other jobs share these 2 CPUs)')
    if a.out:
        from trm_course.core import atomic_write
        with atomic_write(a.out, 'w') as f: f.write('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
