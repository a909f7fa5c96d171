"""Full against reduced-scale (`draft=True`) JPEG decoding in `read_image`: how much the pixels differ, and the speed.

    python benchmarks/jpeg_decode.py                       # the 23 sample photos in the repository, 64 and 128 px
    python benchmarks/jpeg_decode.py --root ADEChallengeData2016 --split training --n 500

The difference is taken per pixel and channel in grey levels (0..255) between `read_image(p, S, draft=True)` and the
default `read_image(p, S)`, which the script first checks to equal a full PIL decode + bicubic resize (as the NVlabs
SPADE code reads photos): the mean over all photos, the worst photo's mean, and the largest single pixel. The speed is
photos per second of one thread over all photos, best of `--repeat` passes (the files stay in the page cache).
"""
import argparse, os, platform, time
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

from depth_semantic_gan.data import read_image

SAMPLE = Path(__file__).resolve().parents[1]/'nbs'/'samples'/'ade20k'/'ADEChallengeData2016'


def rate(photos, size, draft, repeat):
    "Photos per second of `read_image` over `photos`, best of `repeat` passes."
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter()
        for p in photos: read_image(p, size, draft=draft)
        best = min(best, time.perf_counter() - t)
    return len(photos) / best


def difference(photos, size):
    "(mean, worst photo's mean, largest pixel) of |draft - full| in grey levels; checks full == PIL decode + bicubic."
    means, worst = [], 0
    for p in photos:
        with Image.open(p) as im: ref = np.asarray(im.convert('RGB').resize((size, size), Image.BICUBIC))
        full = read_image(p, size)
        if not np.array_equal(full, ref): raise SystemExit(f'{p}: read_image differs from a full decode + bicubic')
        d = np.abs(read_image(p, size, draft=True).astype(np.int16) - full)
        means.append(d.mean()); worst = max(worst, int(d.max()))
    return float(np.mean(means)), float(np.max(means)), worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=str(SAMPLE), help='an ADEChallengeData2016 folder (default: the sample)')
    ap.add_argument('--split', default='validation', help='training or validation')
    ap.add_argument('--n', type=int, default=None, help='use the first N photos (default: all)')
    ap.add_argument('--sizes', type=int, nargs='+', default=[64, 128], help='output sides')
    ap.add_argument('--repeat', type=int, default=5, help='timed passes per decode (the best is kept)')
    a = ap.parse_args()
    photos = sorted((Path(a.root)/'images'/a.split).glob('*.jpg'))[:a.n]
    if not photos: raise SystemExit(f'{a.root}/images/{a.split}: no .jpg photos')
    px = sorted(np.prod(Image.open(p).size) for p in photos)
    print(f'{len(photos)} photos of {px[0] / 1e6:.2f} to {px[-1] / 1e6:.2f} Mpixels from {a.root}/images/{a.split}; '
          f'{platform.machine()}, {os.cpu_count()} CPUs, 1 thread used, Pillow {PIL.__version__}')
    print('| size | mean abs diff | worst photo | largest pixel | full, photos/s | draft, photos/s | draft/full |')
    print('|---|---|---|---|---|---|---|')
    for s in a.sizes:
        mean, worst, px = difference(photos, s)
        full, draft = rate(photos, s, False, a.repeat), rate(photos, s, True, a.repeat)
        print(f'| {s} px | {mean:.2f} | {worst:.2f} | {px} | {full:.0f} | {draft:.0f} | {draft / full:.1f}x |')


if __name__ == '__main__': main()
