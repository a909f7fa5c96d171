"""The notebooks with widgets in a real browser: JupyterLab started here, Debian's Chromium driven by Playwright.

For each notebook of `WIDGET_NOTEBOOKS` it opens a copy (so the source notebook is never saved over) beside links
to `nbs/samples` and `nbs/images`, runs all cells under `IN_TEST=1` (JupyterLab runs every cell, `eval: false` ones
included), checks
that no cell raised and that the widgets rendered without error, then works one control of the notebook's widget
(an item slider, a dropdown) and waits for the picture and the text it shows to change. Screenshots go to
`tests/screenshots/`. `make test` installs Playwright; Chromium (`apt-get install chromium`) only in CI (`CI=true`)
or by `make browser`. Elsewhere the test skips unless Chromium is there (`/usr/bin/chromium`, `chromium` on the PATH,
or `DSG_CHROMIUM`). The browser is never downloaded.
"""
import json, os, re, secrets, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get('DSG_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium')
SHOTS = ROOT/'tests'/'screenshots'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def lab(tmp_path, request):
    "JupyterLab server on a free port, serving a copy of notebook `request.param`; yields (url, token, name, log file)."
    notebook = request.param
    if not CHROMIUM.exists():
        pytest.skip(f'no Chromium at {CHROMIUM}: run `make browser` (installs Debian chromium with apt-get) '
                    'or set DSG_CHROMIUM=/path/to/chromium to run the browser test')
    pytest.importorskip('playwright')
    nbs = tmp_path/'nbs'
    nbs.mkdir()
    for d in ('samples', 'images'):                               # the notebooks read these relative to nbs/
        (nbs/d).symlink_to(ROOT/'nbs'/d)
    nb = json.loads((ROOT/'nbs'/notebook).read_text())          # nbdev_clean strips the kernel: name it, or Lab asks
    nb['metadata']['kernelspec'] = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
    (nbs/notebook).write_text(json.dumps(nb))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, 'IN_TEST': '1', 'JUPYTER_CONFIG_DIR': str(tmp_path/'config'),
           'JUPYTER_RUNTIME_DIR': str(tmp_path/'runtime'),
           'JUPYTERLAB_SETTINGS_DIR': str(tmp_path/'settings'), 'JUPYTERLAB_WORKSPACES_DIR': str(tmp_path/'workspaces')}
    tracker = tmp_path/'settings'/'@jupyterlab'/'notebook-extension'/'tracker.jupyterlab-settings'
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({'windowingMode': 'none'}))   # every cell in the page: its prompt is its state
    log = open(tmp_path/'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', f'--port={port}',
                             '--ServerApp.ip=127.0.0.1', f'--IdentityProvider.token={token}',
                             f'--ServerApp.root_dir={nbs}',
                             '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2); break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'JupyterLab did not start:\n{(tmp_path/"jupyterlab.log").read_text()[-3000:]}')
        _start_kernel(base, token, notebook)
        yield base, token, notebook, tmp_path/'jupyterlab.log'
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()

def _start_kernel(base, token, notebook):
    """Start the notebook's kernel session through the REST API, before the page opens: the page then connects to it.
    Left to the page, JupyterLab sometimes starts two kernels and shuts one down at once; the page can then stay
    connected to the dead one ("Kernel never reached an 'alive' state") and a run-all half runs."""
    body = json.dumps({'path': notebook, 'name': notebook, 'type': 'notebook', 'kernel': {'name': 'python3'}})
    req = urllib.request.Request(f'{base}/api/sessions?token={token}', data=body.encode(), method='POST',
                                 headers={'Content-Type': 'application/json'})
    session = json.load(urllib.request.urlopen(req, timeout=120))
    assert session['kernel']['name'] == 'python3', session

STATE = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent.trim());
    const errors = [...document.querySelectorAll(
                        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], '
                        + '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                   .map(e => e.innerText).filter(t => t.includes('Traceback')).map(t => t.slice(0, 3000));
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
    return {prompts, errors, status};
}"""

def _accept_dialogs(page):
    """Accept JupyterLab's dialogs (restart the kernel?), printing each. When Lab asks which kernel to use (it sometimes
    does, even for a notebook that names one), take the running kernel of the notebook's session: the default
    choice would start a second kernel and shut the first one down."""
    while page.locator('.jp-Dialog .jp-mod-accept').count():
        dialog = page.locator('.jp-Dialog').first
        print('JupyterLab dialog:', ' '.join(dialog.inner_text().split())[:200])
        if (select := dialog.locator('select')).count():
            running = [t for t in select.first.locator('option').all_inner_texts() if re.search(r'\.ipynb \(\w+\)', t)]
            if running: select.first.select_option(label=running[0])
        page.locator('.jp-Dialog .jp-mod-accept').first.click()
        page.wait_for_timeout(500)

def _run_all(page, command='runmenu:run-all'):
    "Run > Run All Cells (or another item of the Run menu, such as 'runmenu:restart-and-run-all')."
    _accept_dialogs(page)
    page.locator('.lm-MenuBar-item', has_text='Run').first.click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').click()
    page.wait_for_timeout(1000)
    _accept_dialogs(page)                                           # "Restart kernel?"

def _kernel_lines(log) -> str:
    "What JupyterLab's log says about the kernel (starts, restarts, deaths): the evidence when a run goes wrong."
    lines = log.read_text(errors='replace').splitlines()
    return '\n'.join(l for l in lines if re.search(r'[Kk]ernel|[Rr]estart|died|buffering', l))[-3000:]

def _wait_for_run_all(page, name, log, timeout=480):
    """Run all cells; poll until every code cell has an execution count and the kernel is idle; fail at once on an
    error.
    A run that stops half way (idle kernel, no cell queued, some never run: a lost request or a restarted kernel) is
    started again once with Restart Kernel and Run All; the test fails, with JupyterLab's kernel log, if it happens
    twice."""
    t0, st, started, retried, stalled = time.time(), None, False, False, None
    _run_all(page); clicked = time.time()
    while time.time() - t0 < timeout:
        _accept_dialogs(page)
        st = page.evaluate(STATE)
        if st['errors']:
            page.screenshot(path=str(SHOTS/f'{name}_error.png'))
            pytest.fail('a cell raised in the browser:\n' + st['errors'][0])
        done = [bool(re.fullmatch(r'\[\d+\]:', p)) for p in st['prompts']]
        if st['prompts'] and st['status'] == 'idle' and all(done): return st
        started = started or any(p != '[ ]:' for p in st['prompts'])
        if not started and time.time() - clicked > 30: _run_all(page); clicked = time.time()   # the request was lost
        stuck = started and st['status'] == 'idle' and '[*]:' not in st['prompts']
        stalled = (stalled or time.time()) if stuck else None
        if stalled and time.time() - stalled > 20:
            page.screenshot(path=str(SHOTS/f'{name}_stalled.png'))
            if retried:
                pytest.fail(f'run-all stopped twice with cells never run; prompts {st["prompts"]}\n'
                            f'JupyterLab kernel log:\n{_kernel_lines(log)}')
            print(f'{name}: run-all stopped with {done.count(False)} cells never run; restarting the kernel and '
                  f'running all once more. JupyterLab kernel log:\n{_kernel_lines(log)}')
            _run_all(page, 'runmenu:restart-and-run-all')
            retried, stalled, clicked = True, None, time.time()
        time.sleep(2)
    page.screenshot(path=str(SHOTS/f'{name}_timeout.png'))
    pytest.fail(f'run-all did not finish in {timeout} s; prompts {st and st["prompts"]}, kernel {st and st["status"]}\n'
                f'JupyterLab kernel log:\n{_kernel_lines(log)}')

def _changes(page, el, old, what='src', timeout=60_000):
    "Wait until attribute `what` of element `el` (or its text, for 'text') differs from `old`."
    js = ('([el, old]) => el.textContent.trim() !== old' if what == 'text' else
          f'([el, old]) => el.getAttribute("{what}") !== old && el.naturalWidth > 0')
    page.wait_for_function(js, arg=[el.element_handle(), old], timeout=timeout)

def _picture_changes(page, box, old, timeout=60_000):
    "Wait until the picture in the Output widget of `box` (redrawn as a new <img>) differs from source `old`."
    js = """([box, old]) => { const i = box.querySelector('.widget-output img');
                              return !!i && i.getAttribute('src') !== old && i.naturalWidth > 0; }"""
    page.wait_for_function(js, arg=[box.element_handle(), old], timeout=timeout)

def _picture(box):
    "The source of the picture in the Output widget of `box`."
    return box.locator('.widget-output img').first.get_attribute('src')

def _press_right(page, box):
    "Move the first slider of widget `box` one step to the right, with the keyboard."
    handle = box.locator('.widget-slider .noUi-handle').first
    handle.focus()
    page.keyboard.press('ArrowRight')

def _output_widget(page):
    "The last widget box showing a picture in an output area, once its picture has loaded (the box and the image)."
    assert page.locator('.widget-slider').count() >= 1 and page.locator('.widget-dropdown').count() >= 2
    box = page.locator('.widget-vbox', has=page.locator('.widget-output img')).last
    img = box.locator('.widget-output img').first
    img.scroll_into_view_if_needed()
    page.wait_for_function('(el) => el.naturalWidth > 0', arg=img.element_handle(), timeout=30_000)
    return box

def _check_sample_browser(page, name):
    "01b_scenes: `SampleBrowser`: the index slider and the dataset dropdown change the item and its picture."
    box = _output_widget(page)
    status = box.locator('.widget-html-content').first
    before, text = _picture(box), status.text_content().strip()
    assert re.search(r'scenes / val: item 0 of \d+, id scenes1-s0-val-000000', text), text
    _press_right(page, box)
    _picture_changes(page, box, before)
    _changes(page, status, text, 'text')
    assert 'item 1 of' in status.text_content() and 'scenes1-s0-val-000001' in status.text_content()
    before, text = _picture(box), status.text_content().strip()
    box.locator('.widget-dropdown select').first.select_option('ADE20K')            # the repository's sample
    _picture_changes(page, box, before)
    _changes(page, status, text, 'text')
    assert re.search(r'ADE20K / val: item \d+ of 23, id ADE_val_', status.text_content()), status.text_content()
    box.screenshot(path=str(SHOTS/f'{name}_widget.png'))

def _check_depth_viewer(page, name):
    "02_pseudo_depth: `pseudo_depth_viewer`: the item slider changes the picture; a missing source names its file."
    box = _output_widget(page)
    readout = box.locator('.widget-readout').first
    before = _picture(box)
    assert readout.text_content().strip() == '0'
    _press_right(page, box)
    _picture_changes(page, box, before)
    assert readout.text_content().strip() == '1'
    before = _picture(box)
    box.locator('.widget-dropdown select').first.select_option('dpt-large')         # offered, not in the cache
    _picture_changes(page, box, before)
    msg = box.locator('.widget-html-content', has_text="no depth 'dpt-large'")
    msg.wait_for(timeout=30_000)
    assert 'val_16.depth_dpt-large.npy' in msg.text_content(), msg.text_content()
    box.screenshot(path=str(SHOTS/f'{name}_widget.png'))

def _check_results_viewer(page, name):
    "07: the comparison viewer's item slider changes its picture and the item's id."
    sliders = page.locator('.widget-slider')
    images = page.locator('img.widget-image')
    assert sliders.count() >= 4, f'{sliders.count()} sliders rendered'   # viewer item, editor item/x/y, checkpoints
    assert images.count() >= 4, f'{images.count()} image widgets rendered'         # viewer, editor, curves, samples
    viewer = page.locator('.widget-vbox', has=page.locator('img.widget-image')).first
    img = viewer.locator('img.widget-image').first
    img.scroll_into_view_if_needed()
    page.wait_for_function('(el) => el.naturalWidth > 0', arg=img.element_handle(), timeout=30_000)
    before = img.get_attribute('src')
    title = viewer.locator('.widget-html-content').first                           # the item's id
    readout = viewer.locator('.widget-readout').first
    first_id, first_item = title.text_content().strip(), int(readout.text_content())
    assert first_id.startswith('scenes'), first_id
    _press_right(page, viewer)                                                      # move the item slider by one
    _changes(page, img, before)
    _changes(page, title, first_id, 'text', timeout=30_000)
    assert int(readout.text_content()) == first_item + 1
    viewer.screenshot(path=str(SHOTS/f'{name}_widget.png'))

WIDGET_NOTEBOOKS = {'01b_scenes.ipynb': _check_sample_browser, '02_pseudo_depth.ipynb': _check_depth_viewer,
                    '07c_viewers.ipynb': _check_results_viewer}

@pytest.mark.parametrize('lab', list(WIDGET_NOTEBOOKS), indirect=True, ids=[n[:-6] for n in WIDGET_NOTEBOOKS])
def test_widgets_in_browser(lab):
    from playwright.sync_api import sync_playwright
    base, token, notebook, log = lab
    name = notebook[:-len('.ipynb')]
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        page.goto(f'{base}/lab/tree/{notebook}?token={token}')
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=90_000)
        page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=90_000)   # kernel up
        _wait_for_run_all(page, name, log)
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
                              ':has-text("Traceback"), '
                              '.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')
        assert errors.count() == 0, errors.first.inner_text()[:3000]
        try:                                                        # widget views render after their cell ran
            page.wait_for_function('() => !document.body.innerText.includes("Loading widget...")', timeout=90_000)
        except Exception:
            page.screenshot(path=str(SHOTS/f'{name}_loading.png'))
            pytest.fail(f'{page.get_by_text("Loading widget...").count()} widgets still loading 90 s after the run')
        assert page.get_by_text('Error displaying widget').count() == 0
        WIDGET_NOTEBOOKS[notebook](page, name)
        page.screenshot(path=str(SHOTS/f'{name}_page.png'))
        browser.close()
    assert (SHOTS/f'{name}_widget.png').stat().st_size > 1000

def test_make_installs_chromium_only_in_ci():
    "`make test` runs apt-get for Chromium only in CI (CI=true); `make browser` does it when asked (`make -n`)."
    if not shutil.which('make'): pytest.skip('make not found')
    # not the caller's make
    env = {k: v for k, v in os.environ.items() if k not in ('CI', 'MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}
    def dry(*args):
        return subprocess.run(['make', '-n', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True).stdout
    assert 'apt-get' not in dry('test') and 'apt-get' not in dry('test', 'CI=false')
    assert 'apt-get install -y -qq chromium' in dry('test', 'CI=true')
    assert 'apt-get install -y -qq chromium' in dry('browser')
