"""The results notebook in a real browser: JupyterLab started here, Debian's Chromium driven by Playwright.

It opens `nbs/07_results.ipynb` (a copy, so the source notebook is never saved over), runs all cells (under
`IN_TEST=1`, so the notebook trains its tiny run), checks that the widgets rendered without error, moves the
comparison viewer's slider and waits for its picture to change, and saves screenshots to `tests/screenshots/`.
`make test` installs Playwright; Chromium (`apt-get install chromium`) only in CI (`CI=true`) or by `make browser`.
Elsewhere the test skips unless Chromium is there (`/usr/bin/chromium`, `chromium` on the PATH, or `DSG_CHROMIUM`).
The browser is never downloaded.
"""
import json, os, re, secrets, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get('DSG_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium')
SHOTS = ROOT/'tests'/'screenshots'
NOTEBOOK = '07_results.ipynb'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on a free port, serving a copy of the notebook; yields (base url, token)."
    if not CHROMIUM.exists():
        pytest.skip(f'no Chromium at {CHROMIUM}: run `make browser` (installs Debian chromium with apt-get) '
                    'or set DSG_CHROMIUM=/path/to/chromium to run the browser test')
    pytest.importorskip('playwright')
    nbs = tmp_path/'nbs'; nbs.mkdir()
    nb = json.loads((ROOT/'nbs'/NOTEBOOK).read_text())          # nbdev_clean strips the kernel: name it, or Lab asks
    nb['metadata']['kernelspec'] = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
    (nbs/NOTEBOOK).write_text(json.dumps(nb))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, 'IN_TEST': '1', 'JUPYTER_CONFIG_DIR': str(tmp_path/'config'), 'JUPYTER_RUNTIME_DIR': str(tmp_path/'runtime'),
           'JUPYTERLAB_SETTINGS_DIR': str(tmp_path/'settings'), 'JUPYTERLAB_WORKSPACES_DIR': str(tmp_path/'workspaces')}
    log = open(tmp_path/'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', f'--port={port}',
                             '--ServerApp.ip=127.0.0.1', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={nbs}',
                             '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2); break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'JupyterLab did not start:\n{(tmp_path/"jupyterlab.log").read_text()[-3000:]}')
        yield base, token
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()

STATE = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent.trim());
    const errors = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')]
                   .map(e => e.innerText.slice(0, 3000));
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
    return {prompts, errors, status};
}"""

def _accept_dialogs(page):
    "Lab sometimes asks which kernel to use (even for a notebook that names one): take the default."
    while page.locator('.jp-Dialog .jp-mod-accept').count():
        page.locator('.jp-Dialog .jp-mod-accept').first.click(); page.wait_for_timeout(500)

def _run_all(page):
    _accept_dialogs(page)
    page.locator('.lm-MenuBar-item', has_text='Run').first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()

def _wait_for_run_all(page, timeout=480):
    "Run all cells; poll until every code cell has an execution count and the kernel is idle; fail at once on an error."
    t0, st, started = time.time(), None, False
    _run_all(page); clicked = time.time()
    while time.time() - t0 < timeout:
        _accept_dialogs(page)
        st = page.evaluate(STATE)
        if st['errors']:
            page.screenshot(path=str(SHOTS/'07_results_error.png'))
            pytest.fail('a cell raised in the browser:\n' + st['errors'][0])
        started = started or any(p != '[ ]:' for p in st['prompts'])
        if not started and time.time() - clicked > 30: _run_all(page); clicked = time.time()   # the request was lost (kernel dialog)
        if st['prompts'] and st['status'] == 'idle' and all(re.fullmatch(r'\[\d+\]:', p) for p in st['prompts']): return st
        time.sleep(2)
    page.screenshot(path=str(SHOTS/'07_results_timeout.png'))
    pytest.fail(f'run-all did not finish in {timeout} s; prompts {st and st["prompts"]}, kernel {st and st["status"]}')

def test_results_notebook_in_browser(lab):
    from playwright.sync_api import sync_playwright
    base, token = lab
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        page.goto(f'{base}/lab/tree/{NOTEBOOK}?token={token}')
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=90_000)
        page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=90_000)   # kernel up
        _wait_for_run_all(page)
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]:has-text("Traceback"), '
                              '.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')
        assert errors.count() == 0, errors.first.inner_text()[:3000]
        assert page.get_by_text('Error displaying widget').count() == 0
        assert page.get_by_text('Loading widget...').count() == 0
        sliders = page.locator('.widget-slider')
        images = page.locator('img.widget-image')
        assert sliders.count() >= 4, f'{sliders.count()} sliders rendered'             # viewer item, editor item/x/y, checkpoints
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
        handle = viewer.locator('.widget-slider .noUi-handle').first
        handle.focus(); page.keyboard.press('ArrowRight')                               # move the item slider by one
        page.wait_for_function('([el, old]) => el.getAttribute("src") !== old && el.naturalWidth > 0',
                               arg=[img.element_handle(), before], timeout=60_000)
        page.wait_for_function('([el, old]) => el.textContent.trim() !== old', arg=[title.element_handle(), first_id], timeout=30_000)
        assert int(readout.text_content()) == first_item + 1
        viewer.screenshot(path=str(SHOTS/'07_results_viewer.png'))
        page.screenshot(path=str(SHOTS/'07_results_page.png'))
        browser.close()
    assert (SHOTS/'07_results_viewer.png').stat().st_size > 1000

def test_make_installs_chromium_only_in_ci():
    "`make test` runs apt-get for Chromium only in CI (CI=true); `make browser` does it when asked (dry runs, `make -n`)."
    if not shutil.which('make'): pytest.skip('make not found')
    env = {k: v for k, v in os.environ.items() if k not in ('CI', 'MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}   # not the caller's make
    def dry(*args):
        return subprocess.run(['make', '-n', *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert 'apt-get' not in dry('test') and 'apt-get' not in dry('test', 'CI=false')
    assert 'apt-get install -y -qq chromium' in dry('test', 'CI=true')
    assert 'apt-get install -y -qq chromium' in dry('browser')
