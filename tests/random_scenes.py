"A stand-in data source for the tests that need a small cache in their own process."
import numpy as np


class RandomScenes:
    "Random uint8 scenes with metric depth, in the form `build_cache` reads."
    def __init__(self, n, seed): self.ids, self.seed = [f's{i:03d}' for i in range(n)], seed
    def __len__(self): return len(self.ids)
    def read(self, i, size):
        r = np.random.RandomState(self.seed + i)
        return {'image': r.randint(0, 256, (size, size, 3)).astype(np.uint8),
                'label': r.randint(0, 12, (size, size)).astype(np.uint8),
                'depth': r.uniform(1, 10, (size, size)).astype(np.float32)}
