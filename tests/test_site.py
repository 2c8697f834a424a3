"""The course website, built by `tools/docs.py` and checked in a real browser (headless Chromium).

The site is built from the committed notebooks into a temporary folder, served over HTTP under its published base
path (settings.ini `doc_baseurl`, as GitHub Pages serves it), and every page is loaded in headless Chromium, driven
through the DevTools protocol over a pipe (`--remote-debugging-pipe`: no driver, no websocket library, no browser
download). Checked: one page per notebook; no JavaScript error or failed request on any page, and no request to
another host (the site works offline); every internal link and anchor resolves and every image loads; math is
typeset by the bundled MathJax; the search box finds chapter 11 for "halting" and exactly one chapter for a word only
that chapter's text has; screenshots of the front page and two chapters are not blank (saved to a temporary folder,
printed below; `TRM_SITE_SHOTS=DIR` to choose it).

Skips, saying so, only when no Chromium or Chrome can be found (`CHROME=/path/to/chrome` to point at one; Debian:
`apt-get install chromium`). The docs builder's packages come with the `dev` extra: without them this test fails.
"""
from __future__ import annotations

import base64, fcntl, functools, http.server, json, os, re, shutil, subprocess, sys, tempfile, threading, time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome')


def find_browser() -> str | None:
    exe = os.environ.get('CHROME')
    if exe: return exe if Path(exe).is_file() else None
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


# --- a minimal DevTools-protocol client over Chromium's pipe (fd 3: commands in, fd 4: replies and events out) -----

_TRAMPOLINE = ('import os, sys; a, b = int(sys.argv[1]), int(sys.argv[2]); os.dup2(a, 3); os.dup2(b, 4); '
               'os.close(a); os.close(b); os.execv(sys.argv[3], sys.argv[3:])')


class Chrome:
    def __init__(self, exe: str, profile: Path, width=1280, height=900):
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        # the child's ends go above 10, and a small Python trampoline puts them on fds 3 and 4 (neither can overwrite
        # the other there) before it becomes the browser
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, res_w)]
        for fd in (cmd_r, res_w): os.close(fd)
        args = [sys.executable, '-c', _TRAMPOLINE, str(hi[0]), str(hi[1]), exe, '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu', '--no-first-run',
                '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--hide-scrollbars',
                '--mute-audio', f'--user-data-dir={profile}', f'--window-size={width},{height}', 'about:blank']
        self.log = open(profile.parent / 'chrome.log', 'wb')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     pass_fds=hi)
        for fd in hi: os.close(fd)
        self.w, self.r = os.fdopen(cmd_w, 'wb', buffering=0), os.fdopen(res_r, 'rb', buffering=0)
        self.next_id, self.replies, self.events = 0, {}, []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.width, self.height, self.session = width, height, None

    def _read(self):
        buf = b''
        while True:
            chunk = self.r.read(1 << 16)
            if not chunk: break
            buf += chunk
            *msgs, buf = buf.split(b'\0')
            with self.cv:
                for m in msgs:
                    msg = json.loads(m)
                    if 'id' in msg: self.replies[msg['id']] = msg
                    else: self.events.append(msg)
                self.cv.notify_all()
        with self.cv: self.replies[-1] = {'closed': True}; self.cv.notify_all()

    def send(self, method, params=None, session=True, timeout=60):
        with self.cv:
            self.next_id += 1
            i = self.next_id
        msg = {'id': i, 'method': method, 'params': params or {}}
        if session and self.session: msg['sessionId'] = self.session
        self.w.write(json.dumps(msg).encode() + b'\0')
        with self.cv:
            if not self.cv.wait_for(lambda: i in self.replies or -1 in self.replies, timeout):
                raise TimeoutError(f'Chromium did not answer {method} in {timeout} s')
            if i not in self.replies: raise RuntimeError(f'Chromium closed its pipe (during {method})')
            rep = self.replies.pop(i)
        if 'error' in rep: raise RuntimeError(f'{method}: {rep["error"]}')
        return rep.get('result', {})

    def open_page(self):
        target = self.send('Target.createTarget', {'url': 'about:blank'}, session=False)['targetId']
        self.session = self.send('Target.attachToTarget', {'targetId': target, 'flatten': True},
                                 session=False)['sessionId']
        for dom in ('Page', 'Runtime', 'Log', 'Network'): self.send(f'{dom}.enable')
        self.send('Emulation.setDeviceMetricsOverride',
                  {'width': self.width, 'height': self.height, 'deviceScaleFactor': 1, 'mobile': False})

    def take_events(self):
        with self.cv:
            ev, self.events = self.events, []
        return ev

    def wait_event(self, method, timeout=60):
        "Wait for an event of this page's session (events already taken are gone)."
        end = time.time() + timeout
        with self.cv:
            while True:
                for k, e in enumerate(self.events):
                    if e['method'] == method and e.get('sessionId') == self.session:
                        return self.events.pop(k)
                if not self.cv.wait(max(0.0, end - time.time())) and time.time() >= end:
                    raise TimeoutError(f'no {method} within {timeout} s')

    def settle(self, quiet=0.5, timeout=20):
        "Wait until this page has no request in flight and nothing new happened for `quiet` s; return its events."
        got, inflight, end = [], set(), time.time() + timeout
        last = time.time()
        while time.time() < end:
            new = self.take_events()
            for e in new:
                m, p = e['method'], e.get('params', {})
                if m == 'Network.requestWillBeSent': inflight.add(p['requestId'])
                elif m in ('Network.loadingFinished', 'Network.loadingFailed'): inflight.discard(p['requestId'])
            if new: got += new; last = time.time()
            elif not inflight and time.time() - last >= quiet: break
            time.sleep(0.05)
        return got

    def eval(self, expr, timeout=60):
        r = self.send('Runtime.evaluate', {'expression': expr, 'awaitPromise': True, 'returnByValue': True},
                      timeout=timeout)
        if 'exceptionDetails' in r: raise RuntimeError(f'{expr[:80]}...: {r["exceptionDetails"]}')
        return r['result'].get('value')

    def close(self):
        try: self.send('Browser.close', session=False, timeout=10)
        except Exception: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        self.log.close()


READY = '''(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  if (document.fonts) await document.fonts.ready;
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  return true;
})()'''

FRAMES = 'new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))'   # painted

INSPECT = '''(() => {
  const math = [...document.querySelectorAll('span.math, div.math')];
  return {
    title: document.title,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    math: math.length,
    typeset: math.filter(e => e.querySelector('mjx-container') && !e.querySelector('mjx-merror')).length,
    raw_tex: math.filter(e => /\\\\\\(|\\\\\\[/.test(e.textContent)).length,
    nav: [...document.querySelectorAll('.sidebar-tree a.reference.internal')].map(a => a.getAttribute('href')),
    widget_scripts: document.querySelectorAll('script[type*="jupyter.widget"], script[src*="widget"]').length,
    widget_notes: document.querySelectorAll('.widget-fallback').length,
    text: (document.querySelector('article') || document.body).innerText,
    code: [...document.querySelectorAll('div.highlight pre')].map(e => e.innerText).join('\\n'),
  };
})()'''


def page_problems(events, origin):
    "JavaScript errors, failed or refused requests and requests to other hosts, from one page's DevTools events."
    bad, pending = [], {}
    for e in events:
        m, p = e['method'], e.get('params', {})
        if m == 'Runtime.exceptionThrown':
            d = p['exceptionDetails']
            bad.append(f"JS exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == 'Runtime.consoleAPICalled' and p['type'] in ('error', 'assert'):
            bad.append('console.error: ' + ' '.join(str(a.get('value', a.get('description', ''))) for a in p['args']))
        elif m == 'Log.entryAdded' and p['entry']['level'] == 'error':
            bad.append(f"console: {p['entry']['text']} {p['entry'].get('url', '')}")
        elif m == 'Network.requestWillBeSent':
            url = p['request']['url']
            pending[p['requestId']] = url
            if not url.startswith((origin, 'data:', 'blob:', 'about:')): bad.append(f'request to another host: {url}')
        elif m == 'Network.responseReceived' and p['response']['status'] >= 400:
            bad.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
        elif m == 'Network.loadingFailed' and not p.get('canceled'):
            bad.append(f"request failed ({p['errorText']}): {pending.get(p['requestId'], '?')}")
    return bad


# --- the site, built once, and every page loaded once ------------------------------------------------------------

def _settings():
    import configparser
    c = configparser.ConfigParser(delimiters=['=']); c.read(ROOT / 'settings.ini', encoding='utf-8')
    return c['DEFAULT']


class _Handler(http.server.SimpleHTTPRequestHandler):
    "Serves the site under its base path only, as GitHub Pages does (an absolute link past it would break there too)."
    base, root = '/', '.'

    def translate_path(self, path):
        path = urlsplit(path).path
        if not path.startswith(self.base): return str(Path(self.root) / '__outside_the_site__')
        return super().translate_path('/' + path[len(self.base):])

    def __init__(self, *a, **k): super().__init__(*a, directory=self.root, **k)
    def log_message(self, *a): pass


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    exe = find_browser()
    if exe is None:
        pytest.skip('no Chromium or Chrome found (looked for CHROME=..., ' + ', '.join(BROWSERS) + '): the website '
                    'was not checked in a browser. Install one (Debian: apt-get install chromium).')
    tmp = tmp_path_factory.mktemp('site')
    t0 = time.time()
    if os.environ.get('TRM_SITE_DIR'):   # debugging the checks: a site tools/docs.py already built
        out, stdout = Path(os.environ['TRM_SITE_DIR']), f"TRM_SITE_DIR={os.environ['TRM_SITE_DIR']}, not rebuilt"
    else:
        out = tmp / 'html'
        res = subprocess.run([sys.executable, str(ROOT / 'tools' / 'docs.py'), '--out', str(out), '--work',
                              str(tmp / 'work'), '--allow-nbdev-failures'], capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f'tools/docs.py failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}'
        stdout = res.stdout
    build_s = time.time() - t0

    base = _settings()['doc_baseurl'].rstrip('/') + '/'
    handler = type('H', (_Handler,), {'base': base, 'root': str(out)})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f'http://127.0.0.1:{server.server_address[1]}'
    chrome = Chrome(exe, tmp / 'profile')
    try:
        chrome.open_page()
        pages = {}
        t1 = time.time()
        for f in sorted(out.glob('*.html')):
            chrome.take_events()
            chrome.send('Page.navigate', {'url': origin + base + f.name})
            chrome.wait_event('Page.loadEventFired')
            chrome.eval(READY)
            events = chrome.settle()   # late requests (fonts MathJax asks for) and what they report
            info = chrome.eval(INSPECT)
            info['problems'] = page_problems(events + chrome.take_events(), origin)
            pages[f.name] = info
        yield dict(out=out, base=base, origin=origin, chrome=chrome, pages=pages, build_s=build_s,
                   load_s=time.time() - t1, stdout=stdout)
    finally:
        chrome.close()
        server.shutdown()


def notebook_title(path: Path) -> str:
    src = json.loads(path.read_text(encoding='utf-8'))['cells'][0]['source']
    return re.search(r'^# (.+)$', ''.join(src), flags=re.M).group(1).replace('`', '').strip()


def chapter_pages(site) -> list[str]:
    return sorted(n for n in site['pages'] if n not in ('search.html', 'genindex.html'))


def test_nbdev_processed_every_notebook(site):
    "nbdev's processing (show_doc, hidden cells) went through for every notebook: tools/docs.py names the others."
    if os.environ.get('TRM_SITE_DIR'): pytest.skip('TRM_SITE_DIR: tools/docs.py reported its nbdev failures when it built that site')
    failed = [line for line in site['stdout'].splitlines() if 'NBDEV FAILED' in line]
    assert not failed, '\n'.join(failed) + '\n' + site['stdout'][-3000:]


def test_one_page_per_notebook(site):
    pages = chapter_pages(site)
    assert len(pages) == len(NOTEBOOKS), f'{len(NOTEBOOKS)} notebooks but {len(pages)} pages: {pages}'
    nav = site['pages']['index.html']['nav']
    assert len(nav) == len(NOTEBOOKS) - 1, f'the navigation lists {len(nav)} chapters: {nav}'
    assert sorted(nav + ['index.html']) == pages, 'a page is missing from the navigation'
    # in the notebooks' file order, each page titled like its notebook
    titles = [site['pages'][h]['title'].split(' - ')[0].split(' — ')[0].strip() for h in nav]
    nb_titles = [notebook_title(p) for p in NOTEBOOKS if p.name != 'index.ipynb']
    assert titles == nb_titles
    print(f"\nsite: {len(pages)} pages, built in {site['build_s']:.0f} s, loaded in {site['load_s']:.0f} s "
          f"({site['stdout'].strip()})")


def test_no_console_errors_or_outside_requests(site):
    bad = {n: p['problems'] for n, p in site['pages'].items() if p['problems']}
    assert not bad, 'browser errors:\n' + '\n'.join(f'{n}: {x}' for n, ps in bad.items() for x in ps[:10])


def test_links_and_images(site):
    out, base, origin = site['out'], site['base'], site['origin']
    ids = {n: set(p['ids']) for n, p in site['pages'].items()}
    broken, checked = [], 0
    for name, p in site['pages'].items():
        for img in p['images']:
            if not img['ok']: broken.append(f'{name}: image does not load: {img["src"]}')
        for href in p['links']:
            u = urlsplit(href)
            if u.scheme in ('http', 'https') and not href.startswith(origin):
                assert u.netloc, f'{name}: malformed link {href}'
                continue
            if u.scheme not in ('http', 'https'): continue   # mailto: and the like
            checked += 1
            if not u.path.startswith(base): broken.append(f'{name}: link outside the site: {href}'); continue
            rel = unquote(u.path[len(base):]) or 'index.html'
            target = out / rel
            if target.is_dir(): target, rel = target / 'index.html', rel.rstrip('/') + '/index.html'
            if not target.is_file(): broken.append(f'{name}: broken link {href}'); continue
            frag = unquote(u.fragment)
            if frag and rel in ids and frag not in ids[rel]:
                broken.append(f'{name}: link to a missing anchor {href}')
    assert checked > 500, f'only {checked} internal links found: the crawl did not see the pages'
    assert not broken, f'{len(broken)} broken links or images:\n' + '\n'.join(broken[:40])
    n_img = sum(len(p['images']) for p in site['pages'].values())
    assert n_img > 50, f'only {n_img} images on the whole site'
    readme_imgs = {img['src'].rsplit('/', 1)[-1] for img in site['pages']['index.html']['images']}
    assert {'quickstart_solved.png', 'quickstart_curve.png'} <= readme_imgs, readme_imgs


def test_math_is_typeset(site):
    with_math = {n: p for n, p in site['pages'].items() if p['math']}
    assert len(with_math) >= 3, f'math found on {sorted(with_math)} only'
    for n, p in with_math.items():
        assert p['typeset'] == p['math'] and p['raw_tex'] == 0, \
            f"{n}: {p['typeset']} of {p['math']} formulas typeset, {p['raw_tex']} still raw TeX"
    assert (site['out'] / '_static' / 'mathjax' / 'tex-chtml.js').is_file(), 'MathJax is not in the site'


def test_colab_link_and_api_reference(site):
    cfg = _settings()
    for nb in NOTEBOOKS:
        if nb.name == 'index.ipynb': continue
        colab = f"https://colab.research.google.com/github/{cfg['user']}/{cfg['repo']}/blob/{cfg['branch']}/nbs/{nb.name}"
        owners = [n for n, p in site['pages'].items() if colab in p['links']]
        assert len(owners) == 1, f'{nb.name}: the Open in Colab link is on {owners}'
    # show_doc rendered: chapter 21's API entries with their nbdev anchors, and no leftover directive
    watch = site['pages']['watch.html']
    assert {'trace', 'halting_savings'} <= set(watch['ids']), 'show_doc entries of chapter 21 are missing'
    for n, p in site['pages'].items():
        assert not re.search(r'^\s*#\|', p['code'], flags=re.M), f'{n}: a `#|` directive is visible in its code'
        assert 'google.colab' not in p['text'], f'{n}: the Colab install cell is visible'
    # the API index (genindex.html) lists the documented names, each linked to its entry in a chapter
    entries = [h for h in site['pages']['genindex.html']['links'] if re.search(r'/\w+\.html#index-\d+$', h)]
    assert len(entries) >= 100, f'the API index has {len(entries)} entries'
    assert any('genindex.html' in h for h in site['pages']['index.html']['links']), 'the front page does not link it'
    # ipywidgets (chapters 02, 15, 21) need a kernel: no widget script on any page, a note where a widget was
    assert not [n for n, p in site['pages'].items() if p['widget_scripts']], 'a page loads ipywidgets scripts'
    assert site['pages']['arc.html']['widget_notes'] >= 1 and site['pages']['watch.html']['widget_notes'] >= 1
    assert 'Paper names and reference names' in site['pages']['index.html']['text']
    assert 'H_cycles' in site['pages']['index.html']['text'], 'the paper-name table is missing'


def _not_blank(png: Path) -> tuple[float, int]:
    from PIL import Image
    im = Image.open(png).convert('RGB')
    hist = Counter(zip(*(band.tobytes() for band in im.split())))
    top = hist.most_common(1)[0][1]
    return 1 - top / (im.width * im.height), len(hist)


def test_screenshots(site):
    shots = Path(os.environ.get('TRM_SITE_SHOTS') or tempfile.mkdtemp(prefix='trm-site-shots-'))
    shots.mkdir(parents=True, exist_ok=True)
    c = site['chrome']
    for name, scroll in [('index.html', None), ('ema.html', '.math'), ('watch.html', '.cell_output img')]:
        c.send('Page.navigate', {'url': site['origin'] + site['base'] + name})
        c.wait_event('Page.loadEventFired')
        c.eval(READY)
        if scroll: c.eval(f"document.querySelector('{scroll}').scrollIntoView({{block: 'center', behavior: 'instant'}})")
        c.eval(FRAMES)
        time.sleep(0.3)
        png = shots / name.replace('.html', '.png')
        png.write_bytes(base64.b64decode(c.send('Page.captureScreenshot', {'format': 'png'})['data']))
        ink, colours = _not_blank(png)
        assert ink > 0.02 and colours > 30, f'{png} looks blank: {ink:.1%} non-background pixels, {colours} colours'
    print(f'\nscreenshots: {shots}')


def _visible_words(text: str) -> set[str]:
    return set(re.findall(r'[a-z]{3,}', text.lower()))


def unique_word(site) -> tuple[str, str]:
    """A word of one chapter's body that no other page has, not even as another word with the same stem (Sphinx's
    search stems words with the Porter stemmer: "measurable" would also find "measure"), chosen from the pages'
    visible text: (word, page)."""
    import snowballstemmer
    stem = functools.lru_cache(maxsize=None)(snowballstemmer.stemmer('porter').stemWord)
    pages = {n: p['text'] for n, p in site['pages'].items() if n not in ('search.html', 'genindex.html')}
    words = {n: _visible_words(t) for n, t in pages.items()}
    stems = Counter(s for ws in words.values() for s in {stem(w) for w in ws})
    for name in sorted(pages):
        if name == 'index.html': continue
        title = site['pages'][name]['title'].lower()
        cands = sorted(w for w in words[name] if len(w) >= 9 and stems[stem(w)] == 1 and stem(w) not in title)
        if cands: return cands[0], name
    raise AssertionError('no word is unique to one chapter')


def search(site, query: str) -> list[str]:
    "Type the query into the search box of the front page, press Enter, and read the result list."
    c = site['chrome']
    c.take_events()
    c.send('Page.navigate', {'url': site['origin'] + site['base'] + 'index.html'})
    c.wait_event('Page.loadEventFired')
    assert c.eval("(() => { const q = document.querySelector('input[name=q]'); if (!q) return false; q.focus(); "
                  "return document.activeElement === q; })()"), 'the front page has no search box'
    c.send('Input.insertText', {'text': query})
    c.take_events()
    for kind in ('keyDown', 'keyUp'):
        c.send('Input.dispatchKeyEvent', {'type': kind, 'key': 'Enter', 'code': 'Enter', 'windowsVirtualKeyCode': 13,
                                          **({'text': '\r'} if kind == 'keyDown' else {})})
    c.wait_event('Page.loadEventFired')
    assert c.eval('location.pathname').endswith('/search.html'), 'Enter in the search box did not open search.html'
    end = time.time() + 30
    while time.time() < end:
        done = c.eval("(() => { const s = document.querySelector('#search-results .search-summary, "
                      "#search-results p'); return s ? s.textContent : ''; })()")
        if done and 'found' in done.lower(): break
        time.sleep(0.2)
    else: raise AssertionError(f'the search for {query!r} did not finish: {done!r}')
    problems = page_problems(c.settle(), site['origin'])   # the result summaries are fetched after the list
    assert not problems, problems
    hrefs = c.eval("[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.getAttribute('href'))")
    return [h.split('?')[0].split('#')[0] for h in hrefs]


def test_search_box(site):
    halting = search(site, 'halting')
    assert 'halting.html' in halting, f'searching "halting" did not return chapter 11: {halting}'
    word, page = unique_word(site)
    hits = search(site, word)
    assert hits == [page], f'searching {word!r} (only on {page}) returned {hits}'
    print(f'\nsearch box: "halting" -> {len(halting)} pages, first {halting[:3]}; {word!r} -> {hits}')


def test_links_between_chapters_go_to_their_pages():
    "A markdown link to a chapter's notebook (it works on GitHub and in Jupyter) becomes a link to that chapter's page."
    sys.path.insert(0, str(ROOT / 'tools'))
    from docs import relink_notebooks
    names = {'15_trainer.ipynb': 'trainer', '15b_quickstart.ipynb': 'quickstart'}
    text = '[15](15_trainer.ipynb), [b](./15b_quickstart.ipynb#how-many-threads), [x](notes.ipynb), [c](https://x/nbs/15_trainer.ipynb)'
    assert relink_notebooks(text, names) == ('[15](trainer.html), [b](quickstart.html#how-many-threads), [x](notes.ipynb), '
                                             '[c](https://x/nbs/15_trainer.ipynb)')
