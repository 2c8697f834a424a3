#!/usr/bin/env python
"""Contributor tool for the course notebooks (not part of the library).

    python tools/nbtool.py new DRAFT.py nbs/NN_name.ipynb   # percent-format draft -> notebook (no outputs)
    python tools/nbtool.py run nbs/NN_name.ipynb [...]       # execute in place, keep outputs (quick mode)
    python tools/nbtool.py figures [nbs/NN_name.ipynb ...]   # `run`, and let the chapters rewrite images/
    python tools/nbtool.py check [nbs/*.ipynb]               # the committed-notebook policy, see README
    python tools/nbtool.py sync                              # install/export cells from the templates below
    python tools/nbtool.py readme                            # nbs/index.ipynb -> README.md
    python tools/nbtool.py stats [train ...]                 # exported-cell sizes, chapter cells, module sizes
    python tools/nbtool.py tables                            # rewrite the index's generated tables from benchmarks/results

Chapters save pictures with `trm_course.core.save_figure`, into `$TRM_FIGURES` (default `figures/`). `run` points
that at a throw-away folder; only `figures` points it at the committed `images/` folder, so committed pictures
change only when a contributor asks for it.

Policy (README, "Contributing"): committed notebooks keep their outputs *and* their execution counts,
because learners read them on GitHub/Colab and nbval refuses cells that have outputs but no count.
So never run `nbdev_clean` on them; run `nbtool.py run` instead, which executes top to bottom in a
fresh kernel (quick mode) and strips only volatile metadata.
"""
import os, re, sys, time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KEEP_NB_META = {'kernelspec', 'language_info'}


def settings_version() -> str:
    import configparser
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']['version']


# The first code cell after `default_exp` of every chapter: on Colab (and only there) install the package at the
# chapter's own version, from PyPI, else from the GitHub tag; if neither works, say which: not published (yet) (the
# servers answered 404) or no internet (no answer at all).
INSTALL_CELL = '''#| hide
# Colab only: install the course package at this chapter's version (does nothing anywhere else).
import sys
if 'google.colab' in sys.modules:
    import subprocess, urllib.error, urllib.request
    def _pip(spec): return subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', spec]).returncode == 0
    def _ask(url):
        "'found', 'missing' (the server answered 404) or 'no answer' (no internet?)."
        try: urllib.request.urlopen(url, timeout=20); return 'found'
        except urllib.error.HTTPError as e: return 'missing' if e.code == 404 else f'HTTP {e.code}'
        except (urllib.error.URLError, OSError): return 'no answer'
    if not (_pip('trm-course==@V@') or _pip('git+https://github.com/trm-course/trm-course@v@V@')):
        pypi, tag = _ask('https://pypi.org/pypi/trm-course/@V@/json'), _ask('https://github.com/trm-course/trm-course/tree/v@V@')
        if pypi == tag == 'no answer': why = 'no internet: neither pypi.org nor github.com answered (is this runtime offline?)'
        elif pypi == tag == 'missing': why = 'not published (yet): PyPI has no trm-course @V@ and GitHub no tag v@V@'
        else: why = f'pip failed (PyPI: {pypi}; GitHub tag v@V@: {tag}); see its messages above'
        raise RuntimeError(f'could not install trm-course @V@: {why}. Or upload a wheel and run `pip install trm_course-*.whl`.')'''

# The last cell of every chapter: export to the library, but only inside the repository (Colab and pip installs
# have no settings.ini one folder up, and need no nbdev).
EXPORT_CELL = '''#| hide
# NBVAL_SKIP
# Contributors: write this chapter's code into the library (only inside the repository, never on Colab or pip installs).
from pathlib import Path
if (Path('..') / 'settings.ini').exists():
    import nbdev; nbdev.nbdev_export()'''


def install_cell() -> str: return INSTALL_CELL.replace('@V@', settings_version())


def sync(path: Path) -> bool:
    "Rewrite a chapter's install and export cells from the templates; True if it changed."
    nb = nbformat.read(path, as_version=4)
    changed = False
    for c in nb.cells:
        if c.cell_type != 'code': continue
        new = (install_cell() if "'google.colab' in sys.modules" in c.source else
               EXPORT_CELL if 'nbdev_export()' in c.source and c.source.startswith('#| hide') else None)
        if new is not None and c.source != new: c.source, changed = new, True
    if changed: nbformat.write(nb, path)
    return changed


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


def run(path: Path, timeout: int = 1800, figures: bool = False) -> float:
    "Execute a notebook in place in a fresh kernel; pictures go to images/ only with `figures=True`."
    import tempfile
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    env_mode = os.environ.setdefault('TRM_MODE', 'quick')
    os.environ['TRM_FIGURES'] = str(ROOT / 'images') if figures else tempfile.mkdtemp(prefix='trm-nbtool-figures-')
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


def exported_cell_lines(path: Path) -> list[int]:
    "Lines of each exported cell (`#| export`, `#| exporti`, `#| export mod`), not counting `#|` directives or blank lines."
    nb = nbformat.read(path, as_version=4)
    return [sum(1 for l in c.source.splitlines() if l.strip() and not l.startswith('#|'))
            for c in nb.cells if c.cell_type == 'code'
            and any(re.match(r'#\|\s*export(i)?(\s|$)', l) for l in c.source.splitlines())]


def module_stats(name: str) -> dict:
    "A library module's lines, top-level definitions (def/class), the course modules it imports, its star imports."
    import ast
    path = ROOT / 'trm_course' / f'{name}.py'
    src = path.read_text(); tree = ast.parse(src)
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    mods = {n.module.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
    mods |= {n.module.split('.')[1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0
             and (n.module or '').startswith('trm_course.')}
    mods |= {a.name.split('.')[1] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names if a.name.startswith('trm_course.')}
    stars = sum(1 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and any(a.name == '*' for a in n.names))
    return dict(lines=len(src.splitlines()), defs=len(defs), imports=sorted(mods), stars=stars)


def stats(modules=('train',)) -> str:
    "The numbers the code-shape issues quote, measured the same way every time."
    import statistics
    nbs = sorted((ROOT / 'nbs').glob('*.ipynb'))
    sizes = [n for p in nbs for n in exported_cell_lines(p)]
    out = [f'exported cells: {len(sizes)}, median {statistics.median(sizes)} lines, max {max(sizes)} '
           '(lines that are neither blank nor `#|` directives)']
    out.append('cells per chapter: ' + ', '.join(f'{p.stem} {len(nbformat.read(p, as_version=4).cells)}' for p in nbs))
    lib = sorted((ROOT / 'trm_course').glob('*.py'))
    out.append(f"star imports in trm_course/: {sum(module_stats(p.stem)['stars'] for p in lib if p.stem != '_modidx')}")
    for m in modules:
        s = module_stats(m)
        out.append(f"trm_course/{m}.py: {s['lines']} lines, {s['defs']} top-level def/class, "
                   f"imports {len(s['imports'])} course modules ({', '.join(s['imports'])})")
    return '\n'.join(out)


# Tables of nbs/index.ipynb (and so README.md) written from a results file, between `<!-- table: NAME -->` and
# `<!-- /table -->` lines; tests/test_recorded_numbers.py checks that each block is what the record gives today.
def generated_tables() -> dict:
    "{name: the Markdown lines of that table}, each made from benchmarks/results by the library's own functions."
    sys.path.insert(0, str(ROOT))
    import json
    from trm_course.ablations import read_sweep, summarise_sweep, sweep_markdown
    from trm_course.test_time import converged_markdown, converged_summary
    from trm_course.less_is_more import markdown_table, summarise
    results = ROOT / 'benchmarks' / 'results'
    return {'ablations': sweep_markdown(summarise_sweep(read_sweep(results / 'ablations_converged.jsonl'))),
            'less_is_more': markdown_table(summarise(read_sweep(results / 'less_is_more.jsonl'))),
            'test_time': converged_markdown(converged_summary(json.loads((results / 'test_time_converged.json').read_text())['runs']))}


TABLE_BLOCK = re.compile(r'(<!-- table: (\w+) -->\n)(.*?)(<!-- /table -->)', re.S)


def table_blocks(text: str) -> dict:
    "{name: the lines between its markers} of a Markdown text."
    return {m.group(2): m.group(3).rstrip('\n').split('\n') for m in TABLE_BLOCK.finditer(text)}


def write_tables(index: Path = ROOT / 'nbs' / 'index.ipynb') -> list[str]:
    "Rewrite every generated table block of the index notebook; returns the names rewritten."
    nb, tables, done = nbformat.read(index, as_version=4), generated_tables(), []
    for c in nb.cells:
        if c.cell_type != 'markdown': continue
        def sub(m):
            if m.group(2) not in tables: raise SystemExit(f'{index}: unknown generated table {m.group(2)!r}; known: {", ".join(tables)}')
            done.append(m.group(2))
            return m.group(1) + '\n'.join(tables[m.group(2)]) + '\n' + m.group(4)
        c.source = TABLE_BLOCK.sub(sub, c.source)
    nbformat.write(nb, index)
    return done


def main(argv):
    if not argv or argv[0] not in ('new', 'run', 'figures', 'check', 'sync', 'readme', 'stats', 'tables'):
        print(__doc__); return 2
    cmd, args = argv[0], argv[1:]
    if cmd == 'new':
        src, dst = Path(args[0]), Path(args[1])
        nbformat.write(from_percent(src.read_text()), dst)
        print(f'wrote {dst}')
    elif cmd == 'run':
        for a in args: run(Path(a))
    elif cmd == 'figures':
        paths = [Path(a) for a in args] or sorted((ROOT / 'nbs').glob('[0-9][0-9]*_*.ipynb'))
        for p in paths: run(p, figures=True)
        print('images/ rewritten by', len(paths), 'notebook(s): review `git diff --stat images/` before committing')
    elif cmd == 'sync':
        changed = [p for p in sorted((ROOT / 'nbs').glob('[0-9][0-9]*_*.ipynb')) if sync(p)]
        print(f'{len(changed)} notebook(s) updated', *changed, sep='\n')
    elif cmd == 'readme':
        with open(ROOT / 'README.md', 'w') as f: f.write(render_readme())
        print('wrote README.md')
    elif cmd == 'stats':
        print(stats(args or ('train',)))
    elif cmd == 'tables':
        print('rewrote the generated tables of nbs/index.ipynb:', ', '.join(write_tables()) or 'none found',
              '(then run `python tools/nbtool.py readme`)')
    elif cmd == 'check':
        paths = [Path(a) for a in args] or sorted((ROOT / 'nbs').glob('*.ipynb'))
        probs = [p for path in paths for p in check(path)]
        print('\n'.join(probs) or f'{len(paths)} notebooks follow the output policy')
        return 1 if probs else 0
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
