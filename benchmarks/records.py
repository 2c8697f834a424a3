"""The header every record in benchmarks/results/ carries, and the rules it follows (issue 19, honest records).

    from records import record_header, require_clean_tree, config_record
    head = record_header(seeds=[0, 1, 2], scratch=args.scratch)      # refuses a dirty tree unless scratch=True
    head['config'] = config_record(cfg, recipe='sudoku6_cpu', overrides={...})
    ...
    head = finish_header(head)                                       # load average at the end

A record names:
- `command`: the exact command line (sys.executable's name and sys.argv);
- `commit`: `git describe --always --dirty` of the tree the code ran from (the folder above this file, which is the
  tree that `import trm_course` resolves to when the script runs from it; checked). A tree with uncommitted changes
  or untracked files (outside benchmarks/results/, where results are being written) is refused with one error (`DirtyTreeError`) unless `scratch=True` (the `--scratch` flag of a script): the output
  then says `"scratch": true` and is not a record (tests/test_records.py refuses scratch files in results/);
- `torch`, `python`, the CPU model, `threads` (torch threads), `seeds`, the load average at start (and end);
- `config` (per run, see `config_record`): the recipe name, the overrides the script applied to it, and the fully
  resolved TrainConfig as flat JSON (`TrainConfig.to_dict(flat=True)`) with the model class. tests/test_records.py
  compares it, field by field, with `get_recipe(recipe)` plus the overrides as the library defines them today.
"""
from __future__ import annotations
import json, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# fields of a TrainConfig that say where and how a run is written, not what is trained (not compared with the recipe)
RUN_LOCAL_FIELDS = ('data', 'out_dir', 'progress', 'log_every', 'checkpoint_every', 'keep_checkpoints', 'device')


class DirtyTreeError(RuntimeError):
    "The code tree has uncommitted changes: a result made from it cannot name the code it ran."


def git_describe(root=ROOT) -> str:
    "`git describe --always --dirty` of `root` ('unknown' outside a git checkout)."
    try:
        return subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def dirty_files(root=ROOT, untracked_only: bool = False) -> list[str]:
    "Tracked files with uncommitted changes, and untracked files that git does not ignore, in `root`."
    out = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all'], cwd=root, capture_output=True,
                         text=True, check=True).stdout
    return [l[3:] for l in out.splitlines() if l.strip() and (not untracked_only or l.startswith('??'))]


def require_clean_tree(root=ROOT, scratch: bool = False) -> str:
    """The commit of `root`; a dirty tree raises DirtyTreeError (one message naming the files), unless `scratch`."""
    commit = git_describe(root)
    if commit == 'unknown' and not scratch:
        raise DirtyTreeError(f'{root} is not a git checkout: a record must name its commit (use --scratch for a trial)')
    # untracked files count too (a new script is code), except results being written into benchmarks/results/
    untracked = [f for f in dirty_files(root, untracked_only=True) if not f.startswith('benchmarks/results/')]
    if (commit.endswith('-dirty') or untracked) and not scratch:
        files = dirty_files(root)
        raise DirtyTreeError(
            f'refusing to write a record from a dirty tree: {root} ({commit}) has uncommitted changes in '
            f'{", ".join(files[:8])}{" ..." if len(files) > 8 else ""}. Commit them and run from a clean checkout '
            f'(e.g. git worktree add /tmp/wt <commit>), or pass --scratch to mark the output as not a record.')
    return commit


def check_import_root(root=ROOT) -> None:
    "`import trm_course` must come from `root` (else the commit would not name the code that ran)."
    import trm_course
    got = Path(trm_course.__file__).resolve().parent
    if got != Path(root).resolve() / 'trm_course':
        raise RuntimeError(f'trm_course is imported from {got}, not from {root}/trm_course: run with PYTHONPATH={root}')


def cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_info() -> dict:
    """The CPU a benchmark ran on: its model name, torch's vector capability (e.g. AVX2, AVX512) and its bfloat16 matrix
    flags (`trm_course.train.cpu_bf16_flags`: without them bf16 is emulated and slow, so CPU timings of different hosts
    are not comparable)."""
    import torch
    from trm_course.train import cpu_bf16_flags
    return dict(model=cpu_model(), capability=torch.backends.cpu.get_cpu_capability(), bf16=sorted(cpu_bf16_flags()))


def cpu_text(info: dict | None = None) -> str:
    "`cpu_info()` as one line: 'AMD EPYC, torch capability AVX2, no bf16 matrix flags'."
    info = info or cpu_info()
    return f"{info['model'] or 'unknown CPU'}, torch capability {info['capability']}, {' '.join(info['bf16']) or 'no bf16 matrix flags'}"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def record_header(seeds=None, scratch: bool = False, root=ROOT, **extra) -> dict:
    "The header of a record (see the module's docstring); refuses a dirty tree unless `scratch`."
    import torch
    check_import_root(root)
    commit = require_clean_tree(root, scratch)
    h = {'command': ' '.join([Path(sys.executable).name] + sys.argv), 'commit': commit, 'scratch': bool(scratch),
         'started': time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()), 'torch': torch.__version__,
         'python': platform.python_version(), 'cpu': cpu_model(), 'cpu_info': cpu_info(), 'cpus': os.cpu_count(),
         'threads': torch.get_num_threads(), 'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
         'seeds': list(seeds) if seeds is not None else None, 'load_start': load_average()}
    return h | extra


def finish_header(h: dict) -> dict:
    "The header with the end time and the load average at the end."
    return h | {'finished': time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()), 'load_end': load_average()}


def config_record(cfg, recipe: str, overrides: dict) -> dict:
    """What a record stores about one run's training configuration: the recipe it derives from, the overrides (flat
    keys, e.g. 'lr', 'model.T'), and the fully resolved TrainConfig (flat JSON). `get_recipe(recipe).replace(**overrides)`
    must give `resolved` (checked here, and again against today's library by tests/test_records.py)."""
    resolved = json.loads(json.dumps(cfg.to_dict(flat=True)))
    rec = {'recipe': recipe, 'overrides': json.loads(json.dumps(overrides)), 'resolved': resolved}
    diff = config_diff(rec)
    if diff: raise ValueError(f'config_record: the config is not recipe {recipe!r} + the overrides given: {diff}')
    return rec


def expected_config(recipe: str, overrides: dict) -> dict:
    "Today's `get_recipe(recipe)` with `overrides` applied, as flat JSON."
    from trm_course.recipes import get_recipe
    return json.loads(json.dumps(get_recipe(recipe).replace(**overrides).to_dict(flat=True)))


def config_diff(config: dict, ignore=RUN_LOCAL_FIELDS) -> list[str]:
    "The fields where a stored config differs from today's recipe + its overrides: ['lr: stored 0.002, today 0.001', ...]."
    want = expected_config(config['recipe'], {k: v for k, v in config['overrides'].items() if k not in ignore})
    got = config['resolved']
    from trm_course.recipes import ADDED_FIELDS      # a field added after the record: matches at its old-behaviour value
    out = []
    for k in sorted(set(want) | set(got)):
        if k in ignore: continue
        if k not in got:
            if k in ADDED_FIELDS and want[k] == ADDED_FIELDS[k]: continue   # recorded before the field: the same run
            out.append(f'{k}: not stored, today {want[k]!r}')
        elif k not in want: out.append(f'{k}: stored {got[k]!r}, no such field today')
        elif got[k] != want[k]: out.append(f'{k}: stored {got[k]!r}, today {want[k]!r}')
    return out


# ---------------------------------------------------------------------------------------------------- the results folder
RESULTS = ROOT / 'benchmarks' / 'results'
MANIFEST = 'MANIFEST.json'
STATUSES = {
    'record': 'a current record: every run carries the header (clean commit, command, torch, load, resolved config)',
    'legacy': 'recorded before the header rule by a script that is kept: re-run it to make the file a record',
    'historical': 'cannot be re-run as recorded (the reason is given); quote it only as historical',
    'superseded': 'replaced by a newer result (named); kept because something still reads or quotes it',
}
# the statuses that say, with a reason, that a file is not today's result: its runs are not compared with today's
# recipes (a recipe change after them is the reason, e.g. sudoku6_cpu's dtype='auto'); every other check still applies
NOT_CURRENT = ('historical', 'superseded')


def read_records(path: Path) -> list[dict]:
    "The JSON objects of a .jsonl file (one per line) or a .json file (its 'runs' list, or the object itself)."
    path = Path(path)
    if path.suffix == '.jsonl':
        return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    d = json.loads(path.read_text())
    return d.get('runs', [d]) if isinstance(d, dict) else list(d)


def check_results(results=RESULTS, check_configs: bool = True) -> list[str]:
    """Problems with benchmarks/results/ (an empty list when all is well):
    - a file missing from MANIFEST.json, or a manifest entry without its file, or an unknown status / no reason;
    - a 'record' file whose runs lack the header, ran from a dirty tree, or are marked scratch;
    - any run (in any .json/.jsonl) marked scratch (not a record: it has no place in results/);
    - a run whose stored configuration (recipe + overrides + resolved TrainConfig) differs from today's
      `get_recipe(recipe)` + the same overrides: the message names the file and the run to re-run, and each field
      (not for a file whose manifest status is in NOT_CURRENT: it says why it is kept as it is)."""
    results = Path(results)
    problems = []
    mpath = results / MANIFEST
    if not mpath.exists(): return [f'{mpath} is missing (every file in {results} must be listed with its status)']
    manifest = json.loads(mpath.read_text())['files']
    files = sorted(p.relative_to(results).as_posix() for p in results.rglob('*') if p.is_file() and p.name != MANIFEST)
    for f in files:
        if f not in manifest: problems.append(f'{f}: not in {MANIFEST} (add it with its status: {", ".join(STATUSES)})')
    for f, e in manifest.items():
        if not (results / f).exists(): problems.append(f'{MANIFEST} lists {f}, which is not in {results}')
        if e.get('status') not in STATUSES: problems.append(f'{f}: status {e.get("status")!r} is not one of {list(STATUSES)}')
        elif e['status'] != 'record' and not e.get('why'): problems.append(f'{f}: status {e["status"]} needs a "why"')
    for f in files:
        if not f.endswith(('.json', '.jsonl')): continue
        try: recs = read_records(results / f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            problems.append(f'{f}: not readable JSON ({err})'); continue
        is_record = manifest.get(f, {}).get('status') == 'record'
        current = manifest.get(f, {}).get('status') not in NOT_CURRENT
        for i, r in enumerate(recs):
            if not isinstance(r, dict): continue
            where = f'{f} run {i}' + (f" ({r.get('row', r.get('variant', ''))} seed {r.get('seed')})" if 'seed' in r else '')
            h = r.get('header', {})
            if h.get('scratch') or r.get('scratch'):
                problems.append(f'{where}: marked scratch (made from a dirty tree or as a trial): not a record')
            if is_record:
                missing = [k for k in ('command', 'commit', 'torch', 'seeds', 'load_start', 'cpu', 'threads') if k not in h]
                if missing: problems.append(f'{where}: the header lacks {missing}')
                elif h['commit'].endswith('-dirty') or h['commit'] == 'unknown':
                    problems.append(f'{where}: ran from commit {h["commit"]}, not a clean tree')
                if 'config' not in r: problems.append(f'{where}: no resolved configuration')
            c = r.get('config')
            if check_configs and current and isinstance(c, dict) and {'recipe', 'overrides', 'resolved'} <= set(c):
                try: diff = config_diff(c)
                except Exception as err: diff = [f'cannot rebuild recipe {c["recipe"]!r} + overrides today ({err})']
                if diff: problems.append(f'{where}: differs from today\'s recipe {c["recipe"]!r} + its overrides, '
                                         f're-run it: ' + '; '.join(diff[:6]) + (' ...' if len(diff) > 6 else ''))
    return problems
