"""The library's layers: every module imports only from its own layer or below, and the import graph has no cycle.

Imports inside functions count too (a lazy import is still a dependency). Layers, bottom to top:
core -> data -> model -> training -> evaluation and experiments -> cli.
"""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'trm_course'
LAYERS = [('core',), ('grids', 'arc', 'sudoku', 'maze', 'arc_data', 'dataset'),
          ('layers', 'network', 'recursion', 'supervision', 'halting', 'reference', 'hrm', 'tiny'),
          ('ema', 'optim', 'recipes', 'train', 'checkpoint'),
          ('experiments', 'maze_experiments', 'arc_eval', 'watch', 'ablations', 'test_time', 'zoo'), ('cli',)]
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
