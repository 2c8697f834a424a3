"Shared data for tests/test_arc_eval*.py: real ARC-AGI-1 evaluation tasks pushed through the augmentations."
import numpy as np

from trm_course.arc import load_arc
from trm_course.arc_data import ArcSubset, plan_arc, to_canvas, augment_grid, parse_aug_name

TASK_IDS = ['4cd1b7b2', '66e6c45b', 'be03b35f', '6ea4a07e', '31d5ba1a']   # the last two have two test inputs


def arc1_tasks(ids=TASK_IDS):
    by_id = {t.id: t for t in load_arc('arc1')['evaluation']}
    return [by_id[i] for i in ids]


def make_test_split(tasks, num_aug, seed=42):
    "What the dataset's test split holds: every copy's test input and answer canvases, names, test index."
    plan = plan_arc([ArcSubset('eval', list(tasks), True)], num_aug=num_aug, seed=seed)
    inputs, labels, names, index, tids = [], [], [], [], []
    for g in range(plan.n_groups):
        for c in range(plan.copy_start[g], plan.copy_start[g + 1]):
            tid, perm = int(plan.tids[c]), plan.perms[c]
            for i, (a, b) in enumerate(plan.split_pairs(g, 'test')):
                inputs.append(to_canvas(augment_grid(a, tid, perm)).reshape(-1))
                labels.append(to_canvas(augment_grid(b, tid, perm)).reshape(-1))
                names.append(plan.copy_name(c)); index.append(i); tids.append(tid)
    return dict(inputs=np.stack(inputs), labels=np.stack(labels), names=names, test_index=np.array(index),
                tids=np.array(tids), identifiers=plan.identifiers())


def noisy_predictions(tasks, ex, seed=0):
    "Each copy: the answer (chance 0.2..0.6 per test input) or one of two wrong grids; q higher when right."
    by_id = {t.id: t for t in tasks}
    r = np.random.default_rng(seed)
    keys = sorted({(parse_aug_name(n)[0], int(i)) for n, i in zip(ex['names'], ex['test_index'])})
    p_right = dict(zip(keys, np.linspace(0.2, 0.6, len(keys))))
    preds, q = ex['labels'].copy(), np.zeros(len(ex['names']))
    for j, name in enumerate(ex['names']):
        task, tid, perm = parse_aug_name(name)
        right = r.random() < p_right[(task, int(ex['test_index'][j]))]
        if not right:
            ans = by_id[task].test[ex['test_index'][j]][1].copy()
            v = int(r.random() < 1 / 3)
            ans[v % ans.shape[0], 0] = (ans[v % ans.shape[0], 0] + 1 + v) % 10
            preds[j] = to_canvas(augment_grid(ans, tid, perm)).reshape(-1)
        q[j] = r.normal(1.0 if right else 0.0, 1.0)
    return preds, q


def summary(res):
    "A picklable, comparable digest of an ArcResult."
    return dict(scores=res.scores, per_task=res.per_task, submission=res.submission, counts=res.counts,
                ranked={k: [(c.hash, c.votes, c.mean_q) for c in v] for k, v in res.ranked.items()},
                answer_rank=res.answer_rank)
