"""``RNGState``: the Python, NumPy and torch (CPU and CUDA) generator states, saved in each checkpoint.

Restored on resume so that everything drawn after the checkpoint (dropout masks, sampling during
evaluation) is drawn exactly as in an uninterrupted run. Stored as tensors and lists only, so the
checkpoint still loads with ``weights_only=True``.
"""

import random

import lightning as L
import numpy as np
import torch


class RNGState(L.Callback):
    def state_dict(self) -> dict:
        version, state, gauss = random.getstate()
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        return {
            "python": [version, list(state), gauss],
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        version, state, gauss = state_dict["python"]
        random.setstate((version, tuple(state), gauss))
        kind, keys, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
