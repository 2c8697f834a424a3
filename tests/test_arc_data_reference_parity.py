"""ARC data and batches: parity with the authors' code (SamsungSAILMontreal/TinyRecursiveModels).

Skipped unless TRM_REFERENCE_REPO points at a checkout of that repository (with its kaggle/combined JSON
files and evaluators/arc.py). Nothing of it is shipped with the course. The reference's own dependencies
`pydantic` and `argdantic` are replaced by tiny stand-ins when they are not installed.

    TRM_REFERENCE_REPO=/path/to/TinyRecursiveModels .venv/bin/pytest tests/test_arc_data_reference_parity.py
"""
import json, os, sys, types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

REF = os.environ.get('TRM_REFERENCE_REPO')
pytestmark = pytest.mark.skipif(not REF or not Path(REF, 'dataset', 'build_arc_dataset.py').exists(),
                                reason='set TRM_REFERENCE_REPO to a checkout of the authors\' repository')

from trm_course.arc_data import ArcSubset, build_arc_dataset, plan_arc, crop_canvas, DIHEDRAL_INVERSE, dihedral
from trm_course.dataset import read_split, PuzzleDataset, FIELDS


def _stub_deps():
    "Minimal pydantic/argdantic stand-ins, enough to import the reference's data code."
    try: import pydantic  # noqa: F401
    except ImportError:
        pd = types.ModuleType('pydantic')
        class BaseModel:
            def __init__(self, **kw):
                ann = {}
                for klass in reversed(type(self).__mro__): ann.update(getattr(klass, '__annotations__', {}))
                self._keys = list(ann)
                for k in ann: setattr(self, k, kw[k] if k in kw else getattr(type(self), k))
            def model_dump(self): return {k: getattr(self, k) for k in self._keys}
        pd.BaseModel = BaseModel
        sys.modules['pydantic'] = pd
    try: import argdantic  # noqa: F401
    except ImportError:
        ad = types.ModuleType('argdantic')
        class ArgParser:
            def command(self, *a, **k): return lambda f: f
        ad.ArgParser = ArgParser
        sys.modules['argdantic'] = ad
    if REF not in sys.path: sys.path.insert(0, REF)


@pytest.fixture(scope='module')
def ref():
    _stub_deps()
    import dataset.build_arc_dataset as b, dataset.common as c, puzzle_dataset as p
    return SimpleNamespace(build=b, common=c, pds=p)


def _subset_files(tmp, n_train=12, n_eval=5):
    "Small kaggle-format files (the first tasks of the reference's ARC-AGI-1 files) and our tasks from them."
    src = Path(REF) / 'kaggle' / 'combined'
    tasks = {}
    for name, n in (('training', n_train), ('evaluation', n_eval)):
        ch = json.loads((src / f'arc-agi_{name}_challenges.json').read_text())
        so = json.loads((src / f'arc-agi_{name}_solutions.json').read_text())
        keys = list(ch)[:n]
        (tmp / f'mini_{name}_challenges.json').write_text(json.dumps({k: ch[k] for k in keys}))
        (tmp / f'mini_{name}_solutions.json').write_text(json.dumps({k: so[k] for k in keys}))
        g = lambda x: np.array(x, np.uint8)
        tasks[name] = [SimpleNamespace(id=k, train=[(g(e['input']), g(e['output'])) for e in ch[k]['train']],
                                       test=[(g(e['input']), g(s)) for e, s in zip(ch[k]['test'], so[k])]) for k in keys]
    return tasks


@pytest.mark.parametrize('num_aug', [0, 7, 60])
def test_arc_build_byte_identical(ref, tmp_path, num_aug):
    "Every file of a built ARC dataset equals the reference builder's, byte for byte (translations included)."
    tasks = _subset_files(tmp_path)
    cfg = ref.build.DataProcessConfig(input_file_prefix=str(tmp_path / 'mini'), output_dir=str(tmp_path / 'theirs'),
                                      subsets=['training', 'evaluation'], test_set_name='evaluation', num_aug=num_aug)
    ref.build.convert_dataset(cfg)
    plan = plan_arc([ArcSubset('arc1/training', tasks['training'], False, True),
                     ArcSubset('arc1/evaluation', tasks['evaluation'], True, True)], num_aug=num_aug, seed=42)
    build_arc_dataset(tmp_path / 'ours', plan)
    theirs, ours = tmp_path / 'theirs', tmp_path / 'ours'
    files = [f'{s}/all__{f}.npy' for s in ('train', 'test') for f in FIELDS] + ['train/dataset.json', 'test/dataset.json',
                                                                                 'identifiers.json', 'test_puzzles.json']
    for f in files:
        assert (ours / f).read_bytes() == (theirs / f).read_bytes(), f


def test_dihedral_table_matches(ref):
    g = np.arange(12).reshape(3, 4)
    assert tuple(ref.common.DIHEDRAL_INVERSE) == DIHEDRAL_INVERSE
    for t in range(8): assert np.array_equal(ref.common.dihedral_transform(g, t), dihedral(g, t))


def test_crop_matches(ref):
    # the reference's _crop is numba-jitted in evaluators/arc.py; run its body as plain Python
    src = Path(REF, 'evaluators', 'arc.py').read_text()
    ns = {'np': np}; exec(src[src.index('def _crop'):src.index('class ARC')], ns)
    rng = np.random.RandomState(0)
    for _ in range(300):
        c = rng.randint(2, 12, (30, 30)).astype(np.uint8)
        h, w = rng.randint(0, 31, 2)
        c[h:, :] = np.where(rng.rand(30 - h, 30) < 0.7, 0, c[h:, :]); c[:, w:] = np.where(rng.rand(30, 30 - w) < 0.7, 1, c[:, w:])
        c[rng.rand(30, 30) < 0.01] = 0
        assert np.array_equal(ns['_crop'](c.reshape(-1)), crop_canvas(c))


def test_sampler_matches(ref, tmp_path):
    "Same group order and puzzle picks as the reference's train iterator; identical test-mode batches; sharded too."
    tasks = _subset_files(tmp_path)
    plan = plan_arc([ArcSubset('a', tasks['training'], False, True), ArcSubset('b', tasks['evaluation'], True, True)], num_aug=9)
    root = build_arc_dataset(tmp_path / 'ours', plan)
    B, seed = 16, 3
    cfg = lambda test, rank=0, world=1: ref.pds.PuzzleDatasetConfig(seed=seed, dataset_paths=[str(root)], global_batch_size=B,
                                                                    test_set_mode=test, epochs_per_iter=1, rank=rank, num_replicas=world)
    for split in ('train', 'test'):
        data = read_split(root, split)
        for rank, world in ((0, 1), (1, 2)):
            test = split == 'test'
            theirs, ours = ref.pds.PuzzleDataset(cfg(test, rank, world), split), PuzzleDataset(data, B, seed=seed, rank=rank, world_size=world, test_mode=test)
            for _epoch in range(2 if not test else 1):
                a, b = list(theirs), list(ours)
                assert len(a) == len(b) > 0
                for (n1, b1, e1), (n2, b2, e2) in zip(a, b):
                    assert n1 == n2 and e1 == e2
                    assert torch.equal(b1['puzzle_identifiers'], b2['puzzle_identifiers'])
                    if test:
                        for k in ('inputs', 'labels'): assert torch.equal(b1[k], b2[k])
