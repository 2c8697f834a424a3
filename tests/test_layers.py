"""The library's layers: every module imports only from its own layer or below, and the import graph has no cycle.

Imports inside functions count too (a lazy import is still a dependency). Layers, bottom to top:
core -> data -> model -> training -> evaluation and experiments -> cli.
"""
import ast
import functools
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'trm_course'
LAYERS = [('core',), ('grids', 'arc', 'sudoku', 'maze', 'arc_data', 'dataset', 'loading'),
          ('layers', 'network', 'recursion', 'supervision', 'halting', 'reference', 'hrm', 'tiny'),
          ('ema', 'optim', 'recipes', 'train', 'checkpoint'),
          ('experiments', 'maze_experiments', 'arc_eval', 'watch', 'ablations', 'less_is_more', 'test_time', 'zoo',
           'quickstart'), ('cli',)]
LAYER = {m: i for i, mods in enumerate(LAYERS) for m in mods}


def imports(path: Path) -> set[str]:
    "The trm_course modules a file imports, anywhere in it."
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module: out.add(node.module.split('.')[0])
            elif node.level == 1: out.update(a.name for a in node.names)
            elif node.module and node.module.startswith('trm_course.'): out.add(node.module.split('.')[1])
            elif node.module == 'trm_course': out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split('.')[1] for a in node.names if a.name.startswith('trm_course.'))
    return {m for m in out if (PKG / f'{m}.py').exists()}


MODULES = sorted(p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_'))
GRAPH = {m: imports(PKG / f'{m}.py') - {m} for m in MODULES}


def test_every_module_has_a_layer():
    assert sorted(set(MODULES) - set(LAYER)) == [], 'add the new module to LAYERS'


@pytest.mark.parametrize('mod', MODULES)
def test_no_upward_import(mod):
    up = sorted(d for d in GRAPH[mod] if LAYER[d] > LAYER[mod])
    assert not up, f'{mod} (layer {LAYER[mod]}) imports from a higher layer: {up}'


def test_no_cycle():
    state, path = {}, []
    def visit(m):
        state[m] = 'open'; path.append(m)
        for d in sorted(GRAPH[m]):
            if state.get(d) == 'open': raise AssertionError('import cycle: ' + ' -> '.join(path[path.index(d):] + [d]))
            if d not in state: visit(d)
        state[m] = 'done'; path.pop()
    for m in MODULES:
        if m not in state: visit(m)


def test_the_checks_can_fail(tmp_path):
    "The parser sees lazy imports inside functions, so a hidden upward import would be caught."
    probe = tmp_path / 'probe.py'
    probe.write_text('def f():\n    from trm_course.cli import main\n    from .arc_eval import x\n    import trm_course.watch\n')
    assert imports(probe) == {'cli', 'arc_eval', 'watch'}


# Explicit imports: a reader finds every name in the module its import line names.
ROOT = PKG.parent


@functools.lru_cache(maxsize=None)
def defined(mod: str) -> set[str]:
    "The names a module defines at its top level (def, class, assignment), not those it imports."
    out = set()
    for node in ast.parse((PKG / f'{mod}.py').read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                out.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return out


def course_imports(src: str):
    "(line, module, name) of every `from trm_course.X import name` / `from .X import name` in `src`."
    for node in ast.walk(ast.parse(src)):
        if not isinstance(node, ast.ImportFrom): continue
        mod = (node.module if node.level == 1 else
               node.module.split('.', 1)[1] if node.module and node.module.startswith('trm_course.') else None)
        if mod and (PKG / f'{mod}.py').exists():
            for a in node.names: yield node.lineno, mod, a.name


def import_problems(where: str, src: str, library: bool) -> list[str]:
    "Star imports, names a module only re-exports, and (in the library) private names taken from another module."
    out = []
    for line, mod, name in course_imports(src):
        if name == '*': out.append(f'{where}:{line}: `from {mod} import *`')
        elif name.startswith('_'):
            if library: out.append(f'{where}:{line}: private name {name} imported from {mod}')
        elif name not in defined(mod): out.append(f'{where}:{line}: {name} is not defined in {mod} (import it from its own module)')
    return out


def notebook_code(path: Path):
    "(cell index, source) of a notebook's code cells, IPython magics and shell lines left out."
    import json
    for i, c in enumerate(json.loads(path.read_text())['cells']):
        if c['cell_type'] == 'code':
            yield i, '\n'.join(l for l in ''.join(c['source']).splitlines() if not l.lstrip().startswith(('%', '!')))


def test_imports_are_explicit():
    "No star import; every name imported from the module that defines it; no private name shared between library modules."
    probs = [p for m in MODULES for p in import_problems(f'trm_course/{m}.py', (PKG / f'{m}.py').read_text(), True)]
    for folder in ('tests', 'benchmarks', 'tools'):
        probs += [p for f in sorted((ROOT / folder).glob('*.py')) for p in import_problems(f'{folder}/{f.name}', f.read_text(), False)]
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        probs += [p for i, src in notebook_code(nb) for p in import_problems(f'nbs/{nb.name} cell {i}', src, False)]
    assert not probs, '\n'.join(probs)


def test_the_import_check_can_fail():
    src = 'from trm_course.core import *\nfrom .dataset import _nope\nfrom trm_course.train import get_recipe\n'
    probs = import_problems('probe.py', src, library=True)
    assert len(probs) == 3 and 'import *' in probs[0] and 'private' in probs[1] and 'recipes' not in probs[2], probs
    assert 'get_recipe is not defined in train' in probs[2]
    assert import_problems('probe.py', 'from .dataset import _nope\n', library=False) == []
