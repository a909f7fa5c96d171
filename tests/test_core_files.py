"Folder locks between real processes, and downloads that fail or resume from a stale part file (90_core)."
import contextlib, hashlib, io, json, os, signal, subprocess, sys, threading
from email.utils import formatdate

import pytest

from depth_semantic_gan.core import DownloadError, FolderBusy, download, folder_lock, serve_folder


def _holder(folder):
    "A process that holds `folder`'s lock until a line arrives on its stdin (it has printed 'locked' by then)."
    code = (f'from depth_semantic_gan.core import folder_lock\n'
            f'with folder_lock({str(folder)!r}): print("locked", flush=True); input()')
    pr = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert pr.stdout.readline().strip() == 'locked'
    return pr


def test_holder_killed_with_sigkill_leaves_no_lock(tmp_path):
    pr = _holder(tmp_path)
    with pytest.raises(FolderBusy, match=f'PID {pr.pid}'): folder_lock(tmp_path).__enter__()
    pr.send_signal(signal.SIGKILL); pr.wait(); pr.stdin.close(); pr.stdout.close()
    with folder_lock(tmp_path): pass


def test_wait_blocks_until_the_holder_is_done(tmp_path):
    "`wait=True` names the holder on stderr and returns only after the holder let go."
    pr = _holder(tmp_path)
    released = threading.Event()
    def _release():
        released.set()
        pr.stdin.write('\n'); pr.stdin.flush()
    threading.Timer(0.5, _release).start()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), folder_lock(tmp_path, 'cache', wait=True):
        assert released.is_set()                   # the lock came only after the holder was told to finish
    want = f'cache {tmp_path} is in use by another process (PID {pr.pid}); waiting for it to finish'
    assert err.getvalue().strip() == want
    pr.communicate()


def test_waiting_for_a_lock_of_this_very_process_is_refused(tmp_path):
    with folder_lock(tmp_path):   # waiting would hang for ever
        with pytest.raises(FolderBusy, match='already locked by this process'):
            folder_lock(tmp_path, wait=True).__enter__()


def test_missing_file_and_no_network(tmp_path):
    (tmp_path/'srv').mkdir()
    with serve_folder(tmp_path/'srv') as (url, _):
        with pytest.raises(DownloadError, match='HTTP 404'): download(f'{url}/missing.bin', tmp_path/'m.bin')
    # nobody listens on this port any more: a clear "offline" message that says what to fetch and where to put it
    with pytest.raises(DownloadError, match=f'Are you offline.*save it as {tmp_path}/x.bin \\(MD5 {"0" * 32}\\)'):
        download(f'{url}/w.bin', tmp_path/'x.bin', md5='0' * 32, timeout=2)
    assert not (tmp_path/'x.bin').exists()


def test_resume_only_what_the_server_vouches_for(tmp_path):
    "A part file of the same version resumes; of an older version, or of unknown origin without a hash, starts again."
    d = tmp_path
    (d/'srv').mkdir(); f = d/'srv'/'w.bin'
    old, new = os.urandom(300_000), os.urandom(300_000)
    f.write_bytes(new); os.utime(f, (2e9, 2e9))                      # the server's file, last changed at t = 2e9
    with serve_folder(d/'srv') as (url, srv):
        url = f'{url}/w.bin'
        def _left_behind(blob, mtime):                               # an interrupted download of the version `mtime`
            (d/'w.bin.part').write_bytes(blob[:100_000])
            (d/'w.bin.part.json').write_text(json.dumps({'url': url, 'validator': formatdate(mtime, usegmt=True)}))
        _left_behind(new, 2e9)                                        # the same version: resumed
        assert download(url, d/'w.bin', progress=False).read_bytes() == new
        assert srv.bytes_sent == 200_000
        assert sorted(o.name for o in d.iterdir()) == ['srv', 'w.bin']   # no part or record left
        (d/'w.bin').unlink(); srv.bytes_sent = 0
        _left_behind(old, 1e9)                                        # an older version: fetched again in full
        assert download(url, d/'w.bin', progress=False).read_bytes() == new
        assert srv.bytes_sent == 300_000
        (d/'w.bin').unlink(); srv.bytes_sent = 0
        (d/'w.bin.part').write_bytes(old[:100_000])                   # of unknown origin, no hash: not joined
        assert download(url, d/'w.bin', progress=False).read_bytes() == new
        assert srv.bytes_sent == 300_000


def test_file_address_is_fetched_and_checked(tmp_path):
    "A `file://` address (a local mirror of ADE20K or of the weights) is fetched and verified like any other."
    src = tmp_path/'mirror'/'weights.pth'
    src.parent.mkdir()
    src.write_bytes(b'x' * 3_000_000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    got = download(src.as_uri(), tmp_path/'a'/'weights.pth', md5=md5, progress=False)
    assert got.read_bytes() == src.read_bytes() and not list(got.parent.glob('*.part*'))
    with pytest.raises(DownloadError, match='md5 is'):                       # checked like an HTTP download
        download(src.as_uri(), tmp_path/'b'/'weights.pth', md5='0' * 32, progress=False)
    assert not (tmp_path/'b'/'weights.pth').exists()
    with pytest.raises(DownloadError, match='Cannot reach'):                  # no such file: named, no traceback soup
        download((tmp_path/'nope.pth').as_uri(), tmp_path/'c'/'nope.pth', progress=False)
