#!/usr/bin/env python
"""Contributor tool for the course notebooks (not part of the library).

    python tools/nbtool.py new DRAFT.py nbs/NN_name.ipynb   # percent-format draft -> notebook (no outputs)
    python tools/nbtool.py run nbs/NN_name.ipynb [...]       # execute in place, keep outputs (quick mode)
    python tools/nbtool.py check [nbs/*.ipynb]               # the committed-notebook policy, see README
    python tools/nbtool.py readme                            # nbs/index.ipynb -> README.md

Policy (README, "Contributing"): committed notebooks keep their outputs *and* their execution counts,
because learners read them on GitHub/Colab and nbval refuses cells that have outputs but no count.
So never run `nbdev_clean` on them; run `nbtool.py run` instead, which executes top to bottom in a
fresh kernel (quick mode) and strips only volatile metadata.
"""
import json, os, re, sys, time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KEEP_NB_META = {'kernelspec', 'language_info'}


def from_percent(text: str) -> nbformat.NotebookNode:
    "Parse a percent-format draft (`# %%` code cells, `# %% [markdown]` markdown cells)."
    nb = nbformat.v4.new_notebook()
    cells, kind, buf = [], None, []

    def flush():
        if kind is None: return
        src = '\n'.join(buf).strip('\n')
        if kind == 'markdown':
            src = '\n'.join(l[2:] if l.startswith('# ') else ('' if l == '#' else l) for l in src.split('\n'))
            cells.append(nbformat.v4.new_markdown_cell(src))
        elif src.strip():
            cells.append(nbformat.v4.new_code_cell(src))

    for line in text.split('\n'):
        m = re.match(r'^# %%(.*)$', line)
        if m:
            flush()
            kind, buf = ('markdown' if '[markdown]' in m.group(1) else 'code'), []
        else:
            buf.append(line)
    flush()
    nb.cells = cells
    nb.metadata = {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'},
                   'language_info': {'name': 'python'}}
    return nb


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    "Drop volatile metadata (timings, widget state, cell ids stay) so diffs stay small."
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NB_META}
    if 'language_info' in nb.metadata: nb.metadata['language_info'] = {'name': 'python'}
    for c in nb.cells:
        c.metadata = {k: v for k, v in c.metadata.items() if k in ('tags',)}
    return nb


def run(path: Path, timeout: int = 1800) -> float:
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    env_mode = os.environ.setdefault('TRM_MODE', 'quick')
    t0 = time.time()
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3',
                            resources={'metadata': {'path': str(path.parent)}})
    client.execute()
    nb = normalise(nb)
    tmp = path.with_suffix('.ipynb.tmp')
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    dt = time.time() - t0
    print(f'{path}: executed in {dt:.1f}s ({env_mode} mode)')
    return dt


def check(path: Path) -> list:
    "Problems that would break the output policy or nbval."
    nb = nbformat.read(path, as_version=4)
    probs = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'code': continue
        if c.outputs and c.execution_count is None:
            probs.append(f'{path}: cell {i} has outputs but no execution count (was it nbdev_clean-ed?)')
        for o in c.outputs:
            if o.get('output_type') == 'error':
                probs.append(f'{path}: cell {i} has a committed error output')
    code = [c for c in nb.cells if c.cell_type == 'code']
    if code and all(c.execution_count is None for c in code):
        probs.append(f'{path}: notebook was never executed; run `python tools/nbtool.py run {path}`')
    return probs


def render_readme(index: Path = ROOT / 'nbs' / 'index.ipynb') -> str:
    """README.md from the index notebook, as nbdev_readme would (that needs Quarto, which is not on PyPI as a
    wheel): markdown cells verbatim; visible code cells with their text output; `#| hide` cells left out."""
    nb = nbformat.read(index, as_version=4)
    parts = ['<!-- WARNING: generated from nbs/index.ipynb by `python tools/nbtool.py readme`; edit the notebook -->']
    for c in nb.cells:
        src = c.source.strip('\n')
        if c.cell_type == 'markdown':
            parts.append(src)
        elif c.cell_type == 'code' and src and not src.startswith(('#| hide', '#|hide')):
            parts.append('```python\n' + src + '\n```')
            text = ''.join(o.get('text', '') if o.output_type == 'stream' else o.get('data', {}).get('text/plain', '')
                           for o in c.outputs if o.output_type in ('stream', 'execute_result'))
            if text.strip(): parts.append('```\n' + text.strip('\n') + '\n```')
    return '\n\n'.join(parts) + '\n'


def main(argv):
    if not argv or argv[0] not in ('new', 'run', 'check', 'readme'):
        print(__doc__); return 2
    cmd, args = argv[0], argv[1:]
    if cmd == 'new':
        src, dst = Path(args[0]), Path(args[1])
        nbformat.write(from_percent(src.read_text()), dst)
        print(f'wrote {dst}')
    elif cmd == 'run':
        for a in args: run(Path(a))
    elif cmd == 'readme':
        with open(ROOT / 'README.md', 'w') as f: f.write(render_readme())
        print('wrote README.md')
    elif cmd == 'check':
        paths = [Path(a) for a in args] or sorted((ROOT / 'nbs').glob('*.ipynb'))
        probs = [p for path in paths for p in check(path)]
        print('\n'.join(probs) or f'{len(paths)} notebooks follow the output policy')
        return 1 if probs else 0
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
