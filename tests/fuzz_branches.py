"""Which branch each property-test example reached (accepted / refused), per reader, for tests/test_fuzz_*.py.

A fuzz test that almost never reaches its "accepted" branch checks little of what a reader returns; these counts show
it. Each fuzz module imports `branch_report` (a module-scoped fixture) and calls `hit(reader, branch)` once per
example. At the end of the module the counts are printed (`pytest -s`, or always without xdist through the terminal
reporter) and, when $TRM_FUZZ_BRANCHES names a file, appended to it as JSON lines: benchmarks/results/fuzz_branches.txt
was written that way.
"""
import collections, contextlib, json, os

import pytest

COUNTS: collections.Counter = collections.Counter()


def hit(reader: str, branch: str) -> None:
    COUNTS[(reader, branch)] += 1


def summary(module: str) -> list[str]:
    readers = sorted({r for r, _ in COUNTS})
    lines = []
    for r in readers:
        got = {b: n for (rr, b), n in COUNTS.items() if rr == r}
        total = sum(got.values())
        lines.append(f'{module}  {r:<34s} {total:5d} examples  ' +
                     '  '.join(f'{b} {n} ({n / total:.0%})' for b, n in sorted(got.items())))
    return lines


@pytest.fixture(scope='module', autouse=True)
def branch_report(request):
    COUNTS.clear()
    yield
    module = request.module.__name__
    lines = summary(module)
    tr = request.config.pluginmanager.getplugin('terminalreporter')
    cap = request.config.pluginmanager.getplugin('capturemanager')
    if tr is not None and lines:
        with (cap.global_and_fixture_disabled() if cap is not None else contextlib.nullcontext()):
            tr.write_line('')
            for line in lines: tr.write_line(f'fuzz branches: {line}')
    out = os.environ.get('TRM_FUZZ_BRANCHES')
    if out and COUNTS:
        with open(out, 'a') as f:
            for (r, b), n in sorted(COUNTS.items()):
                f.write(json.dumps({'module': module, 'reader': r, 'branch': b, 'examples': n}) + '\n')


def check_shares(min_accepted: float = 0.1, min_refused: float = 0.1, only_accepts=(), only_refuses=()) -> None:
    """Every reader that ran in this module reached both branches often enough: at least `min_accepted` of its
    examples accepted and `min_refused` refused (readers in `only_accepts` / `only_refuses` are checked one way)."""
    bad = []
    for r in sorted({r for r, _ in COUNTS}):
        got = {b: n for (rr, b), n in COUNTS.items() if rr == r}
        total, acc = sum(got.values()), sum(n for b, n in got.items() if b.startswith('accepted'))
        if r not in only_refuses and acc < min_accepted * total: bad.append(f'{r}: {acc} of {total} accepted')
        if r not in only_accepts and total - acc < min_refused * total: bad.append(f'{r}: {total - acc} of {total} refused')
    assert not bad, 'fuzz strategies reach a branch too rarely: ' + '; '.join(bad)
