#!/usr/bin/env python
"""Build the course website from the committed notebooks and their outputs (no chapter is re-run).

    python tools/docs.py                  # -> _docs/ (open _docs/index.html, or serve it: python -m http.server -d _docs)
    python tools/docs.py --out DIR --work DIR --jobs 2 --strict

Needs the `docs` extra (`pip install -e ".[docs]"`; the `dev` extra includes it).

Two steps, as `nbdev_docs` does them, with Sphinx in place of Quarto:

1. **nbdev's processing** (its `FilterDefaults` processors, exactly what `nbdev_docs` runs before Quarto): `#|`
   directives are read and stripped, `#| hide` cells (the Colab install cell, the export cell) and `#| export` code
   are hidden, `show_doc` cells are added and executed to render every exported name's signature and docstring, and
   names in backticks become links to their documentation. Only imports, exported definitions and `show_doc` run;
   the chapters' training cells do not: their committed outputs are what the site shows.
2. **Sphinx + MyST-NB** render the processed notebooks to HTML with the Furo theme. Why this builder: nbdev's own
   renderer, Quarto, is a binary that cannot be installed from the registries this project can reach (PyPI, Debian,
   npm); Jupyter Book 2 / mystmd download their theme at build time. Sphinx + MyST-NB (the engine of Jupyter Book 1)
   installs from PyPI, builds offline, renders notebooks with their stored outputs, and makes a full-text search
   index that works without a server. MathJax 3 comes from the `sphinx-mathjax-offline` package and is copied into
   the site, so no page loads anything from another host.

Between the two steps this script translates what Quarto would have read: the front matter (title, description,
page name `output-file`) becomes the page title with an "Open in Colab" and a GitHub link; Quarto cell options
(`echo: false`, `output: false`, `include: false`, `code-fold`) become MyST-NB cell tags; links nbdev wrote to the
published site become relative links, with anchors matching nbdev's; ipywidgets outputs (chapters 02, 15, 21: they
need a live kernel) become their text form or a note. Pages keep nbdev's names (`watch.html` for
`nbs/21_watch.ipynb`), so nbdev's links and the README's site links point at the same pages, in file order.
"""
from __future__ import annotations

import argparse, configparser, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS_CONF, IMAGES = ROOT / 'nbs', ROOT / 'docs', ROOT / 'images'
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
_CELL_KEYS = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}
BADGE = '_static/colab-badge.svg'


def settings() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']


def notebooks() -> list[Path]:
    "The course's notebooks in file order (nbdev's order), `index.ipynb` included."
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('.', '_')))


# --- step 1: nbdev's processing, in `jobs` fresh processes --------------------------------------------------------

_PROC_SCRIPT = r'''
import os, sys
from pathlib import Path
os.environ['IN_TEST'] = '1'
from nbdev.processors import FilterDefaults
from nbdev.serve_drv import exec_nb


class WithoutExecution(FilterDefaults):
    "nbdev's processors without running any cell: no show_doc output, everything else as usual."
    def base_procs(self): return [p for p in super().base_procs() if p.__name__ != 'exec_show_docs']


args = sys.argv[1:]
for src, dst in zip(args[::2], args[1::2]):
    src, dst = Path(src), Path(dst)
    try: exec_nb(src, dst, FilterDefaults)
    except Exception as e:
        cause = e.__cause__ or e.__context__
        lines = str(e).splitlines()
        msg = '\n'.join(lines[:8] + (['    ...'] if len(lines) > 8 else []))
        msg += f'\n{type(cause).__name__}: {cause}' if cause else ''
        Path(str(dst) + '.failed').write_text(msg)
        exec_nb(src, dst, WithoutExecution)   # the page still builds, without its API entries
'''


def nbdev_process(nbs: list[Path], out: Path, jobs: int) -> None:
    '''Run nbdev's FilterDefaults processors on every notebook, as `nbdev_docs` does, from nbs/ (writes out/NAME).
    A notebook nbdev cannot process (typically a cell that mixes imports with code using earlier cells' variables:
    nbdev runs every cell that imports) is processed again without running any cell, and out/NAME.failed says why.'''
    out.mkdir(parents=True, exist_ok=True)
    for p in nbs: (out / f'{p.name}.failed').unlink(missing_ok=True)
    groups = [nbs[i::jobs] for i in range(jobs)]
    env = os.environ | {'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1'),
                        'TRM_MODE': 'quick', 'TRM_FIGURES': tempfile.mkdtemp(prefix='trm-docs-figures-'),
                        'PYTHONWARNINGS': 'ignore',
                        # show_doc documents this checkout's library, whatever trm_course the environment has installed
                        'PYTHONPATH': os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p])}
    procs = []
    for g in groups:
        if not g: continue
        args = [str(a) for p in g for a in (p, out / p.name)]
        procs.append((g, subprocess.Popen([sys.executable, '-c', _PROC_SCRIPT, *args], cwd=NBS, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    errors = []
    for g, p in procs:
        so, se = p.communicate()
        if p.returncode: errors.append(se[-6000:])
    if errors: raise SystemExit('docs: nbdev processing failed:\n' + '\n'.join(errors))


def nbdev_failures(nbs: list[Path], proc: Path) -> dict[str, str]:
    "The notebooks nbdev could not process (their pages were built without show_doc), with the reason."
    return {p.name: (proc / f'{p.name}.failed').read_text() for p in nbs if (proc / f'{p.name}.failed').is_file()}


# --- between the steps: what Quarto would have read, for MyST-NB -------------------------------------------------

_DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')


def _src(x) -> str: return ''.join(x) if isinstance(x, list) else x


def quarto_options_to_tags(cell: dict) -> None:
    "Strip the Quarto cell options nbdev leaves in a code cell and express them as MyST-NB tags."
    lines = _src(cell['source']).splitlines()
    opts, body = {}, []
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        if m and all(_DIRECTIVE.match(l) for l in lines[:i]): opts[m.group(1).lower()] = m.group(2).strip().lower()
        else: body.append(line)
    cell['source'] = '\n'.join(body)
    tags = set(cell.setdefault('metadata', {}).get('tags', []))
    if opts.get('include') == 'false': tags.add('remove-cell')
    if opts.get('echo') == 'false': tags.add('remove-input')
    if opts.get('output') == 'false': tags.add('remove-output')
    if opts.get('code-fold') in ('true', 'show'): tags.add('hide-input')
    if tags: cell['metadata']['tags'] = sorted(tags)


def anchor_html(name: str) -> str:
    """An HTML anchor with the id Quarto gives a show_doc heading (nbdev's links use it: `trm.forward`), where MyST's
    own ids for the heading (docutils' `trm-step`, GitHub's slug `trmstep`) differ from it."""
    from docutils.nodes import make_id
    qid = name.strip().lower()
    try: from myst_parser.slugs import github_slugify
    except ImportError: github_slugify = lambda t: re.sub(r'[^\w\- ]', '', t.strip().lower()).replace(' ', '-')
    return '' if qid in (make_id(name), github_slugify(name)) else f'<span id="{qid}"></span>\n\n'


_HEADING = re.compile(r'^(#{2,4}) (\S+)\s*$', flags=re.M)


def doc_anchors(processed: Path) -> set[str]:
    "The anchors of the show_doc headings of one processed notebook (what nbdev's links point at)."
    found = set()
    for c in json.loads(processed.read_text(encoding='utf-8'))['cells']:
        for o in c.get('outputs', []):
            found |= {m.group(2).lower() for m in _HEADING.finditer(_src(o.get('data', {}).get('text/markdown', '')))}
    return found


def fix_markdown(text: str, site: str, anchors: dict[str, set[str]]) -> str:
    """Links to the published site become relative (to the page that documents the name: nbdev gives 03_sudoku and
    17_sudoku the same page); Quarto's link attributes become HTML; show_doc headings get nbdev's anchors."""
    text = re.sub(r'\[source\]\((\S+?)\)\{[^}]*\}', r'<a class="nbdev-source" href="\1" target="_blank">[source]</a>', text)

    def owner(page, a):   # the page that documents anchor `a`: the linked one, else the only one that has it
        if a in anchors.get(page, set()): return page
        owners = [p for p, names in anchors.items() if a in names]
        return owners[0] if len(owners) == 1 else None

    def relink(m):
        page, anchor = m.group(1), (m.group(2) or '#')[1:]
        # nbdev links every exported name, also methods and private helpers that have no show_doc entry: a method
        # goes to its class's entry, anything else to the top of its page
        for a in ([anchor, anchor.split('.')[0]] if anchor else []):
            if owner(page, a): return f'({owner(page, a)}.html#{a})'
        return f'({page}.html)'
    text = re.sub(r'\(' + re.escape(site) + r'([\w.-]+?)\.html(#[^)\s]*)?\)', lambda m: relink(m) , text)
    text = text.replace(site, '')
    return _HEADING.sub(lambda m: anchor_html(m.group(2)) + m.group(0), text)


def relink_notebooks(text: str, names: dict[str, str]) -> str:
    """Links between chapters written as notebook files (`[chapter 15](15_trainer.ipynb)`: they work on GitHub and in
    Jupyter) point at those chapters' pages (`trainer.html`); a link to a file that is not a chapter stays as it is."""
    def sub(m):
        page = names.get(m.group(1))
        return f'({page}.html{m.group(2) or ""})' if page else m.group(0)
    return re.sub(r'\((?:\./)?([\w.-]+\.ipynb)(#[^)\s]*)?\)', sub, text)


def widget_fallback(out: dict) -> None:
    "ipywidgets need a live kernel: keep a progress bar's text, replace an interactive widget by a note."
    data = out['data']
    data.pop(WIDGET_VIEW)
    plain = _src(data.get('text/plain', ''))
    if re.match(r'^\w+\(children=|^(Interactive|interactive|Output)\(', plain) or not plain.strip():
        data.pop('text/plain', None)
        data['text/html'] = ('<div class="widget-fallback">An interactive widget is shown here when the chapter runs '
                             'in Jupyter or Colab (it needs a live Python kernel; use the <b>Open in Colab</b> link '
                             'at the top of this page).</div>')


def page_name(nb: dict, src: Path) -> tuple[str, dict]:
    "The page name nbdev gives a notebook (front matter `output-file`, else the notebook's name) and the front matter."
    import yaml
    cells = nb['cells']
    if cells and cells[0]['cell_type'] == 'raw' and _src(cells[0]['source']).lstrip().startswith('---'):
        fm = yaml.safe_load(_src(cells[0]['source']).strip().strip('-')) or {}
        return Path(fm.get('output-file', src.stem + '.html')).stem, fm
    return src.stem, {}


def page_names(nbs: list[Path], proc: Path) -> dict[str, str]:
    """Every notebook's page name, unique. nbdev names a page after its notebook without the number (`output-file`),
    so 03_sudoku and 17_sudoku would both be `sudoku.html` (Quarto would keep only one of them); the later notebook
    then takes its module's name (`#| default_exp experiments` -> `experiments.html`), else its full file name."""
    names: dict[str, str] = {}
    for p in nbs:
        name = page_name(json.loads((proc / p.name).read_text(encoding='utf-8')), p)[0]
        if name in names.values():
            alt = default_exp(p).split('.')[-1]
            name = alt if alt and alt not in names.values() else p.stem
        names[p.name] = name
    return names


def default_exp(path: Path) -> str:
    "The module a notebook exports to (`#| default_exp NAME`), or ''."
    for c in json.loads(path.read_text(encoding='utf-8'))['cells']:
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', _src(c['source']), flags=re.M) if c['cell_type'] == 'code' else None
        if m: return m.group(1)
    return ''


def chapter_header(fm: dict, src: Path, cfg) -> str:
    user, repo, branch = cfg['user'], cfg['repo'], cfg['branch']
    colab = f'https://colab.research.google.com/github/{user}/{repo}/blob/{branch}/nbs/{src.name}'
    github = f'{cfg["git_url"].rstrip("/")}/blob/{branch}/nbs/{src.name}'
    lead = f'<p class="chapter-lead">{_md_inline(fm["description"])}</p>\n\n' if fm.get('description') else ''
    return (f'# {fm.get("title", src.stem)}\n\n{lead}'
            f'<div class="chapter-links"><a class="colab-link" href="{colab}"><img src="{BADGE}" alt="Open in Colab" '
            f'width="117" height="20"></a> <a class="github-link" href="{github}">notebook <code>nbs/{src.name}</code> '
            f'on GitHub</a></div>\n')


def _md_inline(s: str) -> str:
    "The little markdown a description uses (`code`, *emphasis*), as HTML."
    import html
    s = html.escape(s, quote=False)
    s = re.sub(r'`([^`]+)`', r'<code>\1</code>', s)
    return re.sub(r'\*([^*]+)\*', r'<em>\1</em>', s)


def convert(src: Path, processed: Path, site_src: Path, cfg, names: dict[str, str], anchors: dict) -> str:
    "Turn one nbdev-processed notebook into the MyST-NB page `site_src/NAME.ipynb`; return NAME."
    nb = json.loads(processed.read_text(encoding='utf-8'))
    name, fm = names[src.name], page_name(nb, src)[1]
    site = cfg['doc_host'].rstrip('/') + cfg['doc_baseurl'].rstrip('/') + '/'
    cells = nb['cells'][1:] if fm else nb['cells']
    out_cells = [dict(cell_type='markdown', metadata={}, source=chapter_header(fm, src, cfg) if src.name != 'index.ipynb'
                      else f'# {fm.get("title", cfg["title"])}\n\n> {fm.get("description", "")}\n')]
    rest = first_cell_rest(src) if fm else ''
    if rest: cells = [dict(cell_type='markdown', metadata={}, source=linkify(rest))] + cells
    for c in cells:
        src_text = _src(c['source'])
        if c['cell_type'] == 'markdown':
            if src_text.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            c['source'] = fix_markdown(relink_notebooks(src_text, names), site, anchors)
        elif c['cell_type'] == 'code':
            quarto_options_to_tags(c)
            for o in c.get('outputs', []):
                data = o.get('data')
                if not data: continue
                if WIDGET_VIEW in data: widget_fallback(o)
                if 'text/markdown' in data:
                    md = fix_markdown(_src(data['text/markdown']), site, anchors)
                    if c['source'].startswith('show_doc('):   # a rule above each entry: CSS (tag_show-doc), not `---`
                        md = re.sub(r'^\s*---\s*\n', '', md)
                        # every documented name in the site's index (genindex.html), pointing at its entry
                        md = _HEADING.sub(lambda m: f'```{{index}} single: {m.group(2)}\n```\n\n{m.group(0)}', md, count=1)
                        c['metadata']['tags'] = sorted(set(c['metadata'].get('tags', [])) | {'show-doc'})
                    data['text/markdown'] = md
        elif c['cell_type'] == 'raw': continue
        out_cells.append({k: v for k, v in c.items() if k in _CELL_KEYS})   # nbdev adds keys (has_sd) nbformat refuses
    if src.name == 'index.ipynb': out_cells = front_page(out_cells, names)
    nb['cells'] = out_cells
    nb['metadata'].pop('widgets', None)
    (site_src / f'{name}.ipynb').write_text(json.dumps(nb, indent=1), encoding='utf-8')
    return name


def first_cell_rest(src: Path) -> str:
    "What nbdev drops with the front matter: the first cell's text after its title, description and Colab badge."
    cells = json.loads(src.read_text(encoding='utf-8'))['cells']
    if not cells or cells[0]['cell_type'] != 'markdown': return ''
    lines = _src(cells[0]['source']).splitlines()
    i = 0
    while i < len(lines) and (not lines[i].strip() or re.match(r'^(# |> |\[!\[Open In Colab\])', lines[i])): i += 1
    return '\n'.join(lines[i:]).strip()


def linkify(md: str) -> str:
    "nbdev's doc links for names in backticks (what its processing did to every other cell)."
    try:
        from nbdev.doclinks import NbdevLookup
        return NbdevLookup().linkify(md)
    except Exception: return md


def front_page(cells: list[dict], names: dict[str, str]) -> list[dict]:
    "README's landing content: the course map's notebook names link to their pages; the navigation lists every page."
    stems = {Path(k).stem: v for k, v in names.items()}
    for c in cells:
        if c['cell_type'] == 'markdown' and '| notebook |' in c['source']:
            c['source'] = re.sub(r'^(\|[^|\n]*\| )`(\w+)`( \|)',
                                 lambda m: f'{m.group(1)}[`{m.group(2)}`]({stems[m.group(2)]}.html){m.group(3)}'
                                 if m.group(2) in stems else m.group(0), c['source'], flags=re.M)
    toc = '\n'.join(v for k, v in names.items() if k != 'index.ipynb')
    cells.append(dict(cell_type='markdown', metadata={},
                      source='**API index**: [every name the chapters export](genindex.html), each linked to its '
                             'documentation (nbdev\'s `show_doc`) in its chapter.'))
    cells.append(dict(cell_type='markdown', metadata={},
                      source=f'```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: Chapters\n\n{toc}\n```'))
    return cells


def copy_mathjax(dst: Path) -> None:
    "MathJax 3 for the site, from the sphinx-mathjax-offline package: the TeX+CHTML bundle and what it loads lazily."
    import importlib.util
    spec = importlib.util.find_spec('sphinx-mathjax-offline')
    if spec is None: raise SystemExit('docs: the sphinx-mathjax-offline package is missing; pip install -e ".[docs]"')
    src = Path(spec.origin).parent / 'static' / 'mathjax'
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / 'tex-chtml.js', dst)
    for sub in ('input', 'output', 'ui', 'a11y', 'sre', 'adaptors'): shutil.copytree(src / sub, dst / sub)


# --- the whole build ------------------------------------------------------------------------------------------------

def build(out: Path, work: Path, jobs: int = 2, strict: bool = False, quiet: bool = True) -> dict:
    "Build the site into `out` (replaced); `work` holds nbdev's processed notebooks and the Sphinx sources."
    try:
        import sphinx, myst_nb  # noqa: F401
    except ImportError as e:
        raise SystemExit(f'docs: {e.name} is missing; install the docs extra: pip install -e ".[docs]"')
    t0, cfg, nbs = time.time(), settings(), notebooks()
    if not nbs: raise SystemExit(f'docs: no notebooks in {NBS}')
    proc, site_src = work / 'nbdev', work / 'site'
    shutil.rmtree(site_src, ignore_errors=True)
    # nbdev's output depends on the notebook, the library (show_doc) and settings.ini: reuse what is newer than all
    newest_dep = max(f.stat().st_mtime for f in [ROOT / 'settings.ini', *(ROOT / cfg['lib_path']).glob('*.py')])
    stale = [p for p in nbs if not (proc / p.name).is_file() or (proc / f'{p.name}.failed').is_file()
             or (proc / p.name).stat().st_mtime < max(p.stat().st_mtime, newest_dep)]
    if stale: nbdev_process(stale, proc, jobs)
    t1 = time.time()
    names = page_names(nbs, proc)
    shutil.copytree(DOCS_CONF, site_src)
    copy_mathjax(site_src / '_static' / 'mathjax')
    shutil.copy2(ROOT / 'settings.ini', site_src / 'settings.ini')
    if IMAGES.is_dir(): shutil.copytree(IMAGES, site_src / 'images')
    anchors = {names[p.name]: doc_anchors(proc / p.name) for p in nbs}
    for p in nbs: convert(p, proc / p.name, site_src, cfg, names, anchors)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-j', str(jobs), '-d', str(work / 'doctrees'),
           str(site_src), str(out)] + (['-q'] if quiet else []) + (['-W', '--keep-going'] if strict else [])
    res = subprocess.run(cmd, cwd=site_src, env=os.environ | {'PYTHONWARNINGS': 'ignore'})
    if res.returncode: raise SystemExit(f'docs: sphinx-build failed (exit {res.returncode}): {" ".join(cmd)}')
    (out / '.nojekyll').touch()   # GitHub Pages: serve _static/ and friends as they are
    pages = [names[p.name] for p in nbs]
    missing = [n for n in pages if not (out / f'{n}.html').is_file()]
    if missing: raise SystemExit(f'docs: no page was written for {missing}')
    return dict(pages=pages, notebooks=[p.name for p in nbs], out=str(out), nbdev_failed=nbdev_failures(nbs, proc),
                nbdev_s=round(t1 - t0, 1),
                total_s=round(time.time() - t0, 1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', type=Path, default=ROOT / '_docs', help='the site (replaced); default _docs/')
    ap.add_argument('--work', type=Path, default=ROOT / '_proc', help='processed notebooks and Sphinx sources')
    ap.add_argument('--jobs', type=int, default=2, help='parallel nbdev processes and Sphinx workers')
    ap.add_argument('--strict', action='store_true', help='fail on any Sphinx warning')
    ap.add_argument('--verbose', action='store_true', help="show Sphinx's progress")
    ap.add_argument('--allow-nbdev-failures', action='store_true',
                    help="exit 0 even when nbdev could not process a notebook (its page then has no show_doc entries)")
    a = ap.parse_args(argv)
    if a.jobs < 1: ap.error(f'--jobs must be at least 1, got {a.jobs}')
    r = build(a.out.resolve(), a.work.resolve(), a.jobs, a.strict, quiet=not a.verbose)
    print(f"docs: {len(r['pages'])} pages from {len(r['notebooks'])} notebooks in {r['total_s']} s "
          f"(nbdev processing {r['nbdev_s']} s) -> {r['out']}/index.html")
    for name, why in r['nbdev_failed'].items():
        print(f'docs: NBDEV FAILED on {name} (its page has no show_doc entries). Keep imports in cells of their own: '
              f'nbdev runs every cell that imports.\n' + '\n'.join('    ' + line for line in why.splitlines()))
    if r['nbdev_failed'] and not a.allow_nbdev_failures:
        raise SystemExit(f"docs: nbdev could not process {', '.join(r['nbdev_failed'])}: the site is built, but fix them")


if __name__ == '__main__':
    main()
