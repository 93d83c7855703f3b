"""Stream a Qwen3 checkpoint's safetensors tensor by tensor, never loading the whole model.

A source is a local folder or a Hugging Face hub id (downloaded with ``huggingface_hub.snapshot_download``,
safetensors + JSON + tokenizer files only). Tensors are opened on demand with ``safetensors.safe_open``:
each :meth:`Checkpoint.tensor` call reads one tensor from disk (memory-mapped), so the peak memory of a
consumer is a few of the largest single tensors.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import PretrainedConfig

from lab.config.errors import UserError
from lab.model.remote_code import folder_config
from lab.runs.checksums import sha256_file

NORM_KINDS = ("input_layernorm", "post_attention_layernorm")
QK_NORM_KINDS = ("self_attn.q_norm", "self_attn.k_norm")


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.safetensors", "*.json", "tokenizer*", "*.txt", "*.model"]))
    except Exception as err:  # the hub raises many types (offline, gated, missing)
        hint = " (HF_HUB_OFFLINE is set: download it first or pass a local folder)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise UserError(f"cannot fetch {repo_id!r} from the Hugging Face hub{hint}: {str(err).splitlines()[0]}") from None


def local_folder(source: str) -> Path | None:
    """The checkpoint folder ``source`` names, or None when it is a hub id (``owner/name``). Every vindex command
    checks its ``source=`` here first: a missing path or a file is refused with one line, never sent to the hub."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"source={source} is a file; pass the checkpoint's folder")
        return path.resolve()
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise UserError(f"source={source} does not exist; pass a local checkpoint folder or a hub id like Qwen/Qwen3-8B")
    return None


@dataclass
class Checkpoint:
    """A Qwen3 checkpoint on disk: its config and a map tensor name → safetensors file."""

    source: str
    folder: Path
    config: PretrainedConfig
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def open(cls, source: str) -> "Checkpoint":
        folder = local_folder(source) or _download(source)
        shards = sorted(folder.glob("*.safetensors"))
        if not shards:
            raise UserError(f"{folder} holds no *.safetensors file; the vindex reads safetensors checkpoints only")
        if not (folder / "config.json").is_file():
            raise UserError(f"{folder} has no config.json")
        try:
            config = folder_config(folder)  # a norm-ablation variant's custom-code folder as its Qwen3 config
        except (OSError, ValueError) as err:
            raise UserError(f"cannot read {folder / 'config.json'}: {str(err).splitlines()[0]}") from None
        if config.model_type != "qwen3":
            raise UserError(f"{source} is a {config.model_type!r} model, not Qwen3; the vindex extractor reads Qwen3 (model_type 'qwen3') only")
        files: dict[str, Path] = {}
        for shard in shards:
            with safe_open(str(shard), framework="pt") as f:
                files.update({name: shard for name in f.keys()})
        return cls(source=source, folder=folder, config=config, files=files)

    def has(self, name: str) -> bool:
        return name in self.files

    def tensor(self, name: str) -> torch.Tensor:
        """One tensor, read from its shard (a tied ``lm_head``/``embed_tokens`` pair is resolved either way)."""
        if name not in self.files:
            alias = {"model.embed_tokens.weight": "lm_head.weight", "lm_head.weight": "model.embed_tokens.weight"}.get(name)
            if alias and alias in self.files and getattr(self.config, "tie_word_embeddings", False):
                name = alias
            else:
                raise UserError(f"{self.folder} lacks tensor {name!r}: not a complete Qwen3 checkpoint")
        with safe_open(str(self.files[name]), framework="pt") as f:
            return f.get_tensor(name)

    def layer_key(self, layer: int, what: str) -> str:
        return f"model.layers.{layer}.{what}"

    def norm_keys(self) -> Iterator[str]:
        """Norm vectors present, in LarQL's order: per layer input/post-attention; the final norm; then q/k norms."""
        num_layers = int(self.config.num_hidden_layers)
        ordered = [self.layer_key(i, f"{k}.{p}") for i in range(num_layers) for k in NORM_KINDS for p in ("weight", "bias")]
        ordered += ["model.norm.weight", "model.norm.bias"]
        ordered += [self.layer_key(i, f"{k}.{p}") for i in range(num_layers) for k in QK_NORM_KINDS for p in ("weight", "bias")]
        return (k for k in ordered if k in self.files)

    def source_hashes(self) -> dict[str, str]:
        """sha256 of every safetensors shard and config.json (for manifest.json)."""
        names = sorted({p.name for p in self.files.values()} | {"config.json"})
        return {name: sha256_file(self.folder / name) for name in names}

    def revision(self) -> str | None:
        """The hub snapshot's commit when downloaded (its folder name), else None."""
        return self.folder.name if self.folder.parent.name == "snapshots" else None

    def tokenizer_file(self) -> Path | None:
        path = self.folder / "tokenizer.json"
        return path if path.is_file() else None


def model_summary(config: PretrainedConfig) -> dict:
    return {"model_type": config.model_type, "head_dim": getattr(config, "head_dim", None),
            "num_q_heads": config.num_attention_heads, "num_kv_heads": config.num_key_value_heads,
            "rope_base": getattr(config, "rope_theta", None) or (getattr(config, "rope_parameters", None) or {}).get("rope_theta")}


