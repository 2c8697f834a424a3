"""Checkpoint files in the format of the authors' training script (pretrain.py), offline.

A `step_<N>` file is built from the shared reference outputs (data/reference/*.pt): their state dict with the
prefix `_orig_mod.model.` that torch.compile + the loss head give the names in a real checkpoint, plus an
all_config.yaml with the `arch` block (the three dataset sizes come from a dataset folder, as in pretrain.py).
Loading it must reproduce the reference's recorded evaluation logits; bad files give one clear error.
See nbs/12_reference.ipynb.
"""
import dataclasses, json
from pathlib import Path

import pytest
import torch

from trm_course.dataset import split_from_arrays, write_dataset
from trm_course.reference import (REFERENCE_PREFIX, ReferenceCheckpointError, check_against_reference, load_reference_checkpoint,
                                  load_reference_file, save_reference_checkpoint, state_dict_to_reference)

REF_DIR = Path(__file__).resolve().parents[1] / 'data' / 'reference'
FILES = sorted(REF_DIR.glob('*.pt'))
SIZES = ('vocab_size', 'seq_len', 'num_puzzle_identifiers')
TOL = 1e-5


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _dataset(root, n_ids, seq_len, vocab):
    x = torch.randint(2, vocab, (3, seq_len)).numpy().astype('uint8')
    return write_dataset(root, {'train': split_from_arrays(x, x, vocab_size=vocab)}, ['<blank>'] + [f'p{i}' for i in range(1, n_ids)])


def _authors_run(tmp_path, d, step=1234):
    "A run folder as pretrain.py leaves it: step_<N> (prefixed state dict) + all_config.yaml (no dataset sizes)."
    import yaml
    run = tmp_path / 'checkpoints' / 'Arc-ACT-torch' / 'run'
    run.mkdir(parents=True)
    torch.save({REFERENCE_PREFIX + k: v for k, v in d['state_dict'].items()}, run / f'step_{step}')
    conf = json.loads(d['config'])
    arch = {'name': 'recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1',
            'loss': {'name': 'losses@ACTLossHead', 'loss_type': 'stablemax_cross_entropy'},
            **{k: v for k, v in conf.items() if k not in SIZES + ('batch_size',)}}
    (run / 'all_config.yaml').write_text(yaml.safe_dump({'arch': arch, 'data_paths': ['data/x'], 'global_batch_size': 6,
                                                         'ema': True, 'seed': 0}))
    data = _dataset(tmp_path / 'data', conf['num_puzzle_identifiers'], conf['seq_len'], conf['vocab_size'])
    return run, data, conf


@pytest.mark.parametrize('path', FILES, ids=lambda p: p.stem)
def test_authors_checkpoint_reproduces_reference(path, tmp_path):
    pytest.importorskip('yaml')
    d = load_reference_file(path)
    run, data, conf = _authors_run(tmp_path, d)
    model = load_reference_checkpoint(run, dataset=data)     # run folder: highest step_<N> + all_config.yaml
    model.eval()
    y, z = model.initial_carry(d['inputs'].shape[0])
    with torch.no_grad():
        y, z, logits, q_halt, _ = model(y, z, d['inputs'], d['puzzle_identifiers'])
    ref = d['eval_steps'][0]
    assert (logits - ref['logits']).norm() / ref['logits'].norm() < TOL
    assert (q_halt - ref['q_halt_logits']).norm() / ref['q_halt_logits'].norm() < TOL
    # every recorded step, loss and gradient (teacher-forced replay, as tests/test_reference_parity.py)
    r = check_against_reference(dict(d, state_dict=state_dict_to_reference(model)))
    assert r['halted_mismatches'] == 0
    assert all(v <= (2e-5 if k == 'train_grads' else TOL) for k, v in r.items() if k not in ('halted_mismatches', 'eval_rollout_logits')), r


@pytest.mark.parametrize('path', FILES, ids=lambda p: p.stem)
def test_course_round_trip(path, tmp_path):
    d = load_reference_file(path)
    from trm_course.reference import model_from_reference
    model = model_from_reference(d['config'], d['state_dict']).eval()
    ck = save_reference_checkpoint(model, tmp_path / 'run' / 'step_5')
    assert sorted(p.name for p in ck.parent.iterdir()) == ['all_config.yaml', 'step_5']
    raw = torch.load(ck, weights_only=True)
    assert sorted(raw) == sorted(REFERENCE_PREFIX + k for k in d['state_dict'])
    back = load_reference_checkpoint(ck).eval()
    assert back.cfg == dataclasses.replace(model.cfg, batch_size=None)
    for (ka, a), (kb, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert ka == kb and a.dtype == b.dtype and torch.equal(a, b), ka
    with torch.no_grad():
        y1, z1 = model.initial_carry(6); y2, z2 = back.initial_carry(6)
        for _ in range(model.cfg.N_sup):
            y1, z1, l1, q1, _ = model(y1, z1, d['inputs'], d['puzzle_identifiers'])
            y2, z2, l2, q2, _ = back(y2, z2, d['inputs'], d['puzzle_identifiers'])
            assert torch.equal(l1, l2) and torch.equal(q1, q2)


def _expect(fn, *words):
    with pytest.raises(ReferenceCheckpointError) as e: fn()
    msg = str(e.value)
    assert all(w in msg for w in words), msg
    return msg


def test_errors(tmp_path):
    pytest.importorskip('yaml')
    d = load_reference_file(FILES[0])
    run, data, conf = _authors_run(tmp_path, d)
    ck = run / 'step_1234'
    n = conf['num_puzzle_identifiers']
    # wrong-size puzzle table: the dataset has other identifiers than the run's build
    other = _dataset(tmp_path / 'other', n + 3, conf['seq_len'], conf['vocab_size'])
    _expect(lambda: load_reference_checkpoint(run, dataset=other), 'inner.puzzle_emb.weights', f'has {n} rows',
            f'num_puzzle_identifiers = {n + 3}', str(ck))
    # a missing key
    sd = torch.load(ck, weights_only=True); del sd[REFERENCE_PREFIX + 'inner.q_head.weight']
    torch.save(sd, run / 'step_2000')                  # now the highest step of the folder
    _expect(lambda: load_reference_checkpoint(run, dataset=data), "missing keys ['inner.q_head.weight']", 'step_2000')
    (run / 'step_2000').unlink()
    # a truncated download
    (run / 'step_3000').write_bytes(ck.read_bytes()[: ck.stat().st_size // 3])
    _expect(lambda: load_reference_checkpoint(run, dataset=data), 'truncated or damaged', 'step_3000')
    (run / 'step_3000').unlink()
    # no config beside the file, no sizes without a dataset, not a checkpoint, nothing there
    lone = tmp_path / 'lone'; lone.mkdir(); (lone / 'step_1').write_bytes(ck.read_bytes())
    _expect(lambda: load_reference_checkpoint(lone / 'step_1'), 'no all_config.yaml', 'config=')
    _expect(lambda: load_reference_checkpoint(ck), 'seq_len', 'dataset=')
    torch.save({'format': 'trm-course', 'model': {}}, tmp_path / 'course.pt')
    _expect(lambda: load_reference_checkpoint(tmp_path / 'course.pt', config=json.loads(d['config'])), 'not a state dict')
    _expect(lambda: load_reference_checkpoint(tmp_path / 'missing' / 'step_1'), 'does not exist')
    # and the good case still loads
    assert load_reference_checkpoint(run, dataset=data).cfg.num_puzzle_identifiers == n
