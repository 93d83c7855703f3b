"""``vindex.load(path)``: every file of a vindex, memory-mapped, checked before use.

Checks (:func:`verify`), in order, naming the first bad file: every required file is present;
``SHA256SUMS`` matches (skippable with ``checksums=False`` for a quick open); ``index.json`` has LarQL's
required fields; each binary file has the size its metadata implies; ``down_meta.bin`` has the right
magic, version, layer count and K.
"""

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from lab.config.errors import UserError
from lab.runs.checksums import SUMS_FILE, check_sha256sums
from vindex.format import DOWN_META_MAGIC, DOWN_META_VERSION, DTYPES, FILES, down_meta_size, record_dtype

REQUIRED_INDEX_FIELDS = ("version", "model", "family", "num_layers", "hidden_size", "intermediate_size", "vocab_size",
                         "embed_scale", "layers", "down_top_k")


def _index(folder: Path) -> dict:
    path = folder / "index.json"
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None
    missing = [k for k in REQUIRED_INDEX_FIELDS if k not in index]
    if missing:
        raise UserError(f"{path} lacks LarQL's required field(s) {missing}")
    return index


def _expect_size(path: Path, expected: int) -> None:
    actual = path.stat().st_size
    if actual != expected:
        raise UserError(f"{path} has {actual} bytes but index.json implies {expected}: truncated or not from this index")


def verify(path: str | Path, checksums: bool = True) -> dict:
    """Check a vindex folder (see module docstring); returns its ``index.json``. Raises :class:`UserError`."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a vindex folder")
    for name in (*FILES, SUMS_FILE):
        if not (folder / name).is_file():
            raise UserError(f"{folder / name} is missing: not a complete vindex")
    if checksums:
        check_sha256sums(folder)
    index = _index(folder)
    L, H, V, K = index["num_layers"], index["hidden_size"], index["vocab_size"], index["down_top_k"]
    width = np.dtype(DTYPES[index.get("dtype", "f16")]).itemsize
    down_width = np.dtype(DTYPES[index.get("down_features_dtype", index.get("dtype", "f16"))]).itemsize
    feats = [entry["num_features"] for entry in index["layers"]]
    if len(feats) != L:
        raise UserError(f"{folder / 'index.json'} lists {len(feats)} layers, not num_layers={L}")
    _expect_size(folder / "gate_vectors.bin", sum(n * H * width for n in feats))
    _expect_size(folder / "down_features.bin", sum(n * H * down_width for n in feats))
    _expect_size(folder / "embeddings.bin", V * H * width)
    manifest = json.loads((folder / "weight_manifest.json").read_text())
    _expect_size(folder / "norms.bin", sum(entry["length"] for entry in manifest))
    _expect_size(folder / "down_meta.bin", down_meta_size(feats, K))
    with open(folder / "down_meta.bin", "rb") as f:
        magic, version, layers, top_k = struct.unpack("<4I", f.read(16))
    if (magic, version, layers, top_k) != (DOWN_META_MAGIC, DOWN_META_VERSION, L, K):
        raise UserError(f"{folder / 'down_meta.bin'} header {(hex(magic), version, layers, top_k)} does not match "
                        f"{(hex(DOWN_META_MAGIC), DOWN_META_VERSION, L, K)}")
    return index


@dataclass
class VIndex:
    """A loaded vindex: arrays are read-only memory maps (``gate``/``down`` as [L, F, H] when F is constant)."""

    path: Path
    index: dict
    gate: np.ndarray
    down: np.ndarray
    embeddings: np.ndarray
    norms: dict[str, np.ndarray]
    down_meta: list[np.ndarray]
    tokenizer: Tokenizer
    constants: dict | None = field(default=None)

    @property
    def num_layers(self) -> int:
        return int(self.index["num_layers"])

    def token_id(self, text: str) -> int:
        """The first token of ``text`` (e.g. ``" Paris"``)."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if not ids:
            raise UserError(f"{text!r} encodes to no token")
        return ids[0]

    def _unit_gate(self) -> np.ndarray:
        gate = self.gate.astype(np.float32)
        return gate / (np.linalg.norm(gate, axis=-1, keepdims=True) + 1e-8)

    def token_scores(self, token_id: int) -> np.ndarray:
        """[L, F] cosine between the token's embedding and every gate direction (the seed's snippet)."""
        emb = self.embeddings[token_id].astype(np.float32)
        return self._unit_gate() @ (emb / (np.linalg.norm(emb) + 1e-8))

    def top_tokens(self, layer: int, feature: int) -> list[tuple[str, float]]:
        """The feature's stored top tokens (``down_meta.bin``), decoded, with their logits."""
        record = self.down_meta[layer][feature]
        return [(self.tokenizer.decode([int(t)]), float(v)) for t, v in zip(record["tokens"]["id"], record["tokens"]["logit"], strict=True)
                if not (t == 0 and v == 0)]

    def nearest_features(self, entity: str, k: int = 10) -> list[tuple[int, int, float]]:
        """(layer, feature, cosine) of the k gate directions closest to the entity's mean token embedding."""
        ids = self.tokenizer.encode(entity, add_special_tokens=False).ids
        if not ids:
            raise UserError(f"{entity!r} encodes to no token")
        query = self.embeddings[ids].astype(np.float32).mean(0)
        query = query / (np.linalg.norm(query) + 1e-8)
        scores = self._unit_gate() @ query
        flat = np.argsort(-np.abs(scores).ravel())[:k]
        return [(int(i // scores.shape[1]), int(i % scores.shape[1]), float(scores.ravel()[i])) for i in flat]


def load(path: str | Path, checksums: bool = True) -> VIndex:
    """Open a vindex folder (verified first; see :func:`verify`)."""
    folder = Path(path).expanduser()
    index = verify(folder, checksums=checksums)
    L, H, V, K = index["num_layers"], index["hidden_size"], index["vocab_size"], index["down_top_k"]
    dtype = np.dtype(DTYPES[index.get("dtype", "f16")]).newbyteorder("<")
    down_dtype = np.dtype(DTYPES[index.get("down_features_dtype", index.get("dtype", "f16"))]).newbyteorder("<")
    feats = {entry["num_features"] for entry in index["layers"]}
    shape = (L, feats.pop(), H) if len(feats) == 1 else (-1, H)
    gate = np.memmap(folder / "gate_vectors.bin", dtype=dtype, mode="r").reshape(shape)
    down = np.memmap(folder / "down_features.bin", dtype=down_dtype, mode="r").reshape(shape)
    embeddings = np.memmap(folder / "embeddings.bin", dtype=dtype, mode="r").reshape(V, H)
    raw_norms = np.memmap(folder / "norms.bin", dtype="<f4", mode="r")
    norms = {e["key"]: raw_norms[e["offset"] // 4 : (e["offset"] + e["length"]) // 4].reshape(e["shape"])
             for e in json.loads((folder / "weight_manifest.json").read_text())}
    meta, offset, rec = [], 16, record_dtype(K)
    for entry in index["layers"]:
        n = entry["num_features"]
        meta.append(np.memmap(folder / "down_meta.bin", dtype=rec, mode="r", offset=offset + 4, shape=(n,)) if n else np.zeros(0, rec))
        offset += 4 + n * rec.itemsize
    constants = json.loads((folder / "constants.json").read_text()) if (folder / "constants.json").is_file() else None
    return VIndex(folder, index, gate, down, embeddings, norms, meta, Tokenizer.from_file(str(folder / "tokenizer.json")), constants)
