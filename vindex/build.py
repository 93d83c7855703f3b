"""Build a LarQL-compatible vindex of a Qwen3 checkpoint, streaming its safetensors tensor by tensor.

    python -m vindex.build                                  # the tiny reference model
    python -m vindex.build source=Qwen/Qwen3-8B             # 36 layers, F=128, f16
    python -m vindex.build source=<folder> vindex=full      # every neuron, as LarQL's dense extraction

Writes (see ``../shared/vindex-format.md`` and :mod:`vindex.format`) into a temporary folder renamed
at the end, so an interrupted build leaves no half index. Memory: the fp32 embedding matrix plus one
layer's gate_proj and down_proj at a time.
"""

import shutil
import sys
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.runs.artifacts import atomic_dir, atomic_write, check_writable, write_json
from lab.runs.checksums import sha256_file, write_sha256sums
from lab.runs.git import git_commit
from vindex.card import vindex_card
from vindex.checkpoint import Checkpoint, model_summary
from vindex.down_meta import down_meta_records, empty_tokens
from vindex.features import check_num_features, down_directions, gate_directions
from vindex.format import DTYPES, INDEX_VERSION, down_meta_header, down_meta_layer, layer_bands
from vindex.source import resolve_source, vindex_dir

TOOL = "qwen3-internals vindex"


def tool_version() -> str:
    try:
        return f"{TOOL} {version('qwen3-internals')}"
    except Exception:
        return TOOL


def _write_rows(handle, tensor: torch.Tensor, dtype: str, chunk: int = 8192) -> int:
    """Append ``tensor`` [rows, H] to ``handle`` as ``dtype`` in row chunks; returns bytes written."""
    written = 0
    for start in range(0, tensor.shape[0], chunk):
        data = tensor[start : start + chunk].float().numpy().astype(np.dtype(DTYPES[dtype]).newbyteorder("<"))
        handle.write(data.tobytes())
        written += data.nbytes
    return written


def _copy_tokenizer(ckpt: Checkpoint, folder: Path) -> Path:
    target = folder / "tokenizer.json"
    if ckpt.tokenizer_file() is not None:
        shutil.copyfile(ckpt.tokenizer_file(), target)
        return target
    from transformers import AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(str(ckpt.folder)).save_pretrained(str(folder / ".tok"))
        shutil.move(folder / ".tok" / "tokenizer.json", target)
        shutil.rmtree(folder / ".tok")
    except (OSError, ValueError, FileNotFoundError):
        raise UserError(f"{ckpt.folder} has no tokenizer.json (LarQL needs one beside down_meta.bin)") from None
    return target


def _write_layers(ckpt: Checkpoint, tmp: Path, embeddings: torch.Tensor, empty, cfg: DictConfig, mode: str, num_feats: int,
                  dtype: str, top_k: int) -> tuple[list[dict], dict[str, list]]:
    """``gate_vectors.bin``, ``down_features.bin`` and ``down_meta.bin``, one layer's matrices in memory at a time;
    returns the layer table of ``index.json`` and the singular values per layer (svd mode)."""
    num_layers = int(ckpt.config.num_hidden_layers)
    layers, sigmas, offset = [], {"gate": [], "down": []}, 0
    with open(tmp / "gate_vectors.bin", "wb") as gate_f, open(tmp / "down_features.bin", "wb") as down_f, \
            open(tmp / "down_meta.bin", "wb") as meta_f:
        meta_f.write(down_meta_header(num_layers, top_k))
        for layer in tqdm(range(num_layers), desc=f"vindex {mode}", unit="layer"):
            svd_args = (cfg.svd.oversample, cfg.svd.power_iters, cfg.seed + 1000 * layer)
            gate, gate_sigma = gate_directions(ckpt.tensor(ckpt.layer_key(layer, "mlp.gate_proj.weight")), mode, num_feats, *svd_args)
            length = _write_rows(gate_f, gate, dtype)
            layers.append({"layer": layer, "num_features": num_feats, "offset": offset, "length": length})
            offset += length
            del gate  # one layer matrix in memory at a time
            down, down_sigma = down_directions(ckpt.tensor(ckpt.layer_key(layer, "mlp.down_proj.weight")), embeddings, mode,
                                               num_feats, svd_args[0], svd_args[1], svd_args[2] + 1)
            _write_rows(down_f, down, dtype)
            meta_f.write(down_meta_layer(down_meta_records(down, embeddings, top_k, empty)))
            del down
            if gate_sigma is not None:
                sigmas["gate"].append(gate_sigma.tolist())
                sigmas["down"].append(down_sigma.tolist())
    return layers, sigmas


def _write_norms(ckpt: Checkpoint, tmp: Path) -> list[dict]:
    """``norms.bin``: every norm weight as fp32, in checkpoint order; returns ``weight_manifest.json``'s entries."""
    manifest, offset = [], 0
    with open(tmp / "norms.bin", "wb") as f:
        for key in ckpt.norm_keys():
            vector = ckpt.tensor(key).float().numpy().astype("<f4")
            f.write(vector.tobytes())
            manifest.append({"key": key.removeprefix("model."), "kind": "vector", "shape": list(vector.shape),
                             "offset": offset, "length": vector.nbytes, "file": "norms.bin"})
            offset += vector.nbytes
    return manifest


def _index(ckpt: Checkpoint, tmp: Path, cfg: DictConfig, source: str, layers: list[dict], vocab: int, mode: str,
           num_feats: int, dtype: str, top_k: int, extracted_at: str, source_hashes: dict[str, str]) -> dict:
    """``index.json``: LarQL's fields (``../shared/vindex-format.md``), the checksums and the SVD settings."""
    config = ckpt.config
    num_layers = int(config.num_hidden_layers)
    index = {
        "version": INDEX_VERSION, "model": source, "family": config.model_type, "num_layers": num_layers,
        "hidden_size": int(config.hidden_size), "intermediate_size": int(config.intermediate_size), "vocab_size": vocab,
        "embed_scale": 1.0, "layers": layers, "down_top_k": top_k, "extract_level": "browse", "dtype": dtype, "quant": "none",
        "num_feats": num_feats, "features": mode, "down_features_dtype": dtype,
        "source": {"huggingface_repo": source, "huggingface_revision": ckpt.revision(),
                   "safetensors_sha256": {k: v for k, v in source_hashes.items() if k.endswith(".safetensors")},
                   "extracted_at": extracted_at, "larql_version": tool_version()},
        "checksums": {name: sha256_file(tmp / name) for name in ("gate_vectors.bin", "embeddings.bin", "down_meta.bin", "norms.bin")},
        "layer_bands": layer_bands(num_layers), "model_config": model_summary(config),
    }
    if mode == "svd":
        index["svd"] = {"method": "randomized", "oversample": cfg.svd.oversample, "power_iters": cfg.svd.power_iters,
                        "seed": cfg.seed, "seed_per_layer": "seed + 1000·layer (gate), +1 (down)",
                        "sign_rule": {"gate": "largest-|.| neuron loading positive", "down": "largest-|.| vocabulary projection positive"}}
    return index


def build(cfg: DictConfig) -> Path:
    """The vindex of ``source`` (or the tiny reference) into ``out`` (or ``<runs>/vindex/...``), written whole or not
    at all."""
    source = resolve_source(cfg)
    ckpt = Checkpoint.open(source)
    inter, hidden = int(ckpt.config.intermediate_size), int(ckpt.config.hidden_size)
    mode, dtype, top_k = str(cfg.features), str(cfg.dtype), cfg.down_top_k
    if dtype not in DTYPES:
        raise UserError(f"dtype={dtype!r}; valid: {', '.join(DTYPES)}")
    num_feats = inter if mode == "full" else cfg.num_features
    check_num_features(mode, num_feats, inter, hidden)
    out = vindex_dir(cfg, source)
    if out.exists() and not cfg.overwrite:
        raise UserError(f"{out} exists; pass overwrite=true or another out=")
    check_writable(out.parent, "out=... or paths.runs=...")

    with atomic_dir(out, overwrite=bool(cfg.overwrite)) as tmp:
        embeddings = ckpt.tensor("model.embed_tokens.weight").float()
        vocab = embeddings.shape[0]
        with open(tmp / "embeddings.bin", "wb") as f:
            _write_rows(f, embeddings, dtype)
        empty = empty_tokens(_copy_tokenizer(ckpt, tmp), vocab)
        layers, sigmas = _write_layers(ckpt, tmp, embeddings, empty, cfg, mode, num_feats, dtype, top_k)
        del embeddings
        write_json(tmp / "weight_manifest.json", _write_norms(ckpt, tmp))
        if mode == "svd":
            write_json(tmp / "singular_values.json", {"gate": sigmas["gate"], "down": sigmas["down"],
                                                      "note": "sigma of each kept direction, per layer, descending"})
        extracted_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        source_hashes = ckpt.source_hashes()  # reads every shard: once
        index = _index(ckpt, tmp, cfg, source, layers, vocab, mode, num_feats, dtype, top_k, extracted_at, source_hashes)
        write_json(tmp / "index.json", index)
        manifest = {"source": {"repo": source, "revision": ckpt.revision(), "folder": str(ckpt.folder), "files_sha256": source_hashes},
                    "extracted_at": extracted_at, "tool": tool_version(), "git_commit": git_commit(), "command": sys.argv,
                    "config": OmegaConf.to_container(cfg, resolve=True)}
        write_json(tmp / "manifest.json", manifest)
        atomic_write(tmp / "README.md", lambda p: p.write_text(vindex_card(index, manifest)))
        write_sha256sums(tmp)
    print(f"wrote {out}")
    return out


@hydra_command("vindex")
def main(cfg: DictConfig) -> None:
    build(cfg)


if __name__ == "__main__":
    hydra_cli(main)
