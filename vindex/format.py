"""The vindex files' binary layouts (see ``../shared/vindex-format.md``), written and parsed.

All binary data is little-endian and row-major without headers, except ``down_meta.bin``::

    u32 magic = 0x444D4554 ("TEMD" on disk), u32 version = 1, u32 num_layers, u32 top_k (K)
    per layer: u32 num_features (0 = layer absent), then num_features records of 8 + 8K bytes:
        u32 top_token_id, f32 c_score, K × (u32 token_id, f32 logit)   (sorted by logit, zero-padded)

size = 16 + Σ_layers (4 + num_features · (8 + 8K)).
"""

import struct
from pathlib import Path

import numpy as np

DOWN_META_MAGIC = 0x444D4554
DOWN_META_VERSION = 1
INDEX_VERSION = 2
DTYPES = {"f16": np.float16, "f32": np.float32}
FILES = ("gate_vectors.bin", "down_features.bin", "embeddings.bin", "norms.bin", "weight_manifest.json", "down_meta.bin",
         "tokenizer.json", "index.json", "manifest.json")


def is_vindex_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a vindex (its ``index.json`` and ``down_meta.bin``)."""
    return (Path(folder) / "index.json").is_file() and (Path(folder) / "down_meta.bin").is_file()


def record_dtype(top_k: int) -> np.dtype:
    """One down_meta record as a numpy structured dtype (little-endian, packed)."""
    return np.dtype([("top_token_id", "<u4"), ("c_score", "<f4"), ("tokens", [("id", "<u4"), ("logit", "<f4")], (top_k,))])


def down_meta_header(num_layers: int, top_k: int) -> bytes:
    return struct.pack("<4I", DOWN_META_MAGIC, DOWN_META_VERSION, num_layers, top_k)


def down_meta_layer(records: np.ndarray) -> bytes:
    """A layer block: u32 count, then the packed records (a ``record_dtype`` array, little-endian by construction)."""
    return struct.pack("<I", len(records)) + records.tobytes()


def down_meta_size(features_per_layer: list[int], top_k: int) -> int:
    return 16 + sum(4 + n * (8 + 8 * top_k) for n in features_per_layer)


def layer_bands(num_layers: int) -> dict[str, list[int]]:
    """LarQL's Qwen3 bands: syntax [0, 2N/5−1], knowledge [2N/5, 4N/5−1], output [4N/5, N−1] (integer division)."""
    a, b = 2 * num_layers // 5, 4 * num_layers // 5
    return {"syntax": [0, a - 1], "knowledge": [a, b - 1], "output": [b, num_layers - 1]}
