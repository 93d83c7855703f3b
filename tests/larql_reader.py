"""An independent reader of a vindex folder, written from ../shared/vindex-format.md only (no vindex imports).

It parses every file the way LarQL's loader would and returns plain numpy arrays and dicts.
"""

import json
import struct
from pathlib import Path

import numpy as np

REQUIRED = ("version", "model", "family", "num_layers", "hidden_size", "intermediate_size", "vocab_size", "embed_scale",
            "layers", "down_top_k")


def read_vindex(folder: Path) -> dict:
    folder = Path(folder)
    index = json.loads((folder / "index.json").read_text())
    assert all(k in index for k in REQUIRED), [k for k in REQUIRED if k not in index]
    H, V, K = index["hidden_size"], index["vocab_size"], index["down_top_k"]
    width = {"f16": 2, "f32": 4}[index.get("dtype", "f16")]
    np_dtype = {"f16": "<f2", "f32": "<f4"}[index.get("dtype", "f16")]
    gate_bytes = (folder / "gate_vectors.bin").read_bytes()
    gate = []
    for entry in index["layers"]:
        chunk = gate_bytes[entry["offset"] : entry["offset"] + entry["length"]]
        assert len(chunk) == entry["num_features"] * H * width
        gate.append(np.frombuffer(chunk, dtype=np_dtype).reshape(entry["num_features"], H))
    down_dtype = {"f16": "<f2", "f32": "<f4"}[index.get("down_features_dtype", "f16")]
    down_all = np.frombuffer((folder / "down_features.bin").read_bytes(), dtype=down_dtype)
    counts = [e["num_features"] for e in index["layers"]]
    down = np.split(down_all.reshape(-1, H), np.cumsum(counts)[:-1])
    embeddings = np.frombuffer((folder / "embeddings.bin").read_bytes(), dtype=np_dtype).reshape(V, H)

    manifest = json.loads((folder / "weight_manifest.json").read_text())
    assert isinstance(manifest, list)
    norm_bytes = (folder / "norms.bin").read_bytes()
    norms = {}
    for item in manifest:
        assert item["kind"] == "vector" and item["file"] == "norms.bin"
        raw = norm_bytes[item["offset"] : item["offset"] + item["length"]]
        norms[item["key"]] = np.frombuffer(raw, dtype="<f4").reshape(item["shape"])

    meta = (folder / "down_meta.bin").read_bytes()
    magic, version, num_layers, top_k = struct.unpack_from("<4I", meta, 0)
    assert meta[:4] == b"TEMD" and magic == 0x444D4554 and version == 1 and num_layers == index["num_layers"] and top_k == K
    pos, records = 16, []
    for _ in range(num_layers):
        (n,) = struct.unpack_from("<I", meta, pos)
        pos += 4
        layer = []
        for _ in range(n):
            top_id, c_score = struct.unpack_from("<If", meta, pos)
            pairs = [struct.unpack_from("<If", meta, pos + 8 + 8 * i) for i in range(K)]
            layer.append({"top_token_id": top_id, "c_score": c_score, "tokens": pairs})
            pos += 8 + 8 * K
        records.append(layer)
    assert pos == len(meta), "trailing bytes in down_meta.bin"

    sums = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    return {"index": index, "gate": gate, "down": down, "embeddings": embeddings, "norms": norms, "down_meta": records,
            "manifest": json.loads((folder / "manifest.json").read_text()), "sums": sums}
