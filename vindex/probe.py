"""Forward passes with hooks: the probe text, the model, and the activations the constants and Gate 3 read."""

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Qwen3ForCausalLM

from lab.config import asset_path
from lab.config.errors import UserError
from lab.model import load_artifact, load_pretrained_config, load_tokenizer, saved_variant

DEFAULT_PROBE = "probe/factual.txt"


def load_model(source: str, cfg: DictConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The checkpoint as a model (eval, ``torch_dtype``, ``device``) and its tokenizer."""
    device = "cuda" if cfg.device == "auto" and torch.cuda.is_available() else ("cpu" if cfg.device == "auto" else str(cfg.device))
    dtype = getattr(torch, str(cfg.torch_dtype), None)
    if not isinstance(dtype, torch.dtype):
        raise UserError(f"torch_dtype={cfg.torch_dtype!r}; use float32, bfloat16 or float16")
    saved = saved_variant(source) if Path(source).is_dir() else None
    if saved is not None and saved.name != "original":
        model = load_artifact(source)
    else:
        load_pretrained_config(source)  # one line for a hub id that cannot be fetched or a non-Qwen3 checkpoint
        model = Qwen3ForCausalLM.from_pretrained(source, dtype=dtype)
    return model.to(device=device, dtype=dtype).eval(), load_tokenizer({"tokenizer": source})


def probe_ids(tokenizer: PreTrainedTokenizerBase, cfg: DictConfig) -> tuple[torch.Tensor, str]:
    """The probe's first ``constants.probe_tokens`` token ids [1, T] and its name; refuses one under ``min_tokens``."""
    path = Path(str(cfg.probe)).expanduser() if cfg.probe else Path(asset_path(DEFAULT_PROBE))
    if not path.is_file():
        raise UserError(f"probe={cfg.probe} is not a file")
    ids = tokenizer(path.read_text(), add_special_tokens=False)["input_ids"][: cfg.constants.probe_tokens]
    if len(ids) < cfg.constants.min_tokens:
        raise UserError(f"probe {path} has {len(ids)} tokens; at least constants.min_tokens={cfg.constants.min_tokens} are needed")
    return torch.tensor([ids]), path.name if cfg.probe else f"bundled {DEFAULT_PROBE}"


@dataclass
class Activations:
    """Per layer l: ``keys`` = MLP input (normalized residual) [T, H], ``swiglu`` = down_proj input h [T, I],
    ``hidden`` = decoder layer output (residual stream) [T, H]; ``logits`` [T, V]."""

    keys: list[torch.Tensor]
    swiglu: list[torch.Tensor]
    hidden: list[torch.Tensor]
    logits: torch.Tensor


@contextmanager
def _hooks(model: PreTrainedModel, store: dict[str, list]):
    handles = []
    for layer in model.model.layers:
        handles.append(layer.mlp.register_forward_pre_hook(lambda m, a: store["keys"].append(a[0][0].detach().float().cpu())))
        handles.append(layer.mlp.down_proj.register_forward_pre_hook(lambda m, a: store["swiglu"].append(a[0][0].detach().float().cpu())))
        handles.append(layer.register_forward_hook(
            lambda m, a, out: store["hidden"].append((out[0] if isinstance(out, tuple) else out)[0].detach().float().cpu())))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def run_with_hooks(model: PreTrainedModel, ids: torch.Tensor) -> Activations:
    store: dict[str, list] = {"keys": [], "swiglu": [], "hidden": []}
    with _hooks(model, store):
        logits = model(input_ids=ids.to(model.device)).logits[0].float().cpu()
    return Activations(store["keys"], store["swiglu"], store["hidden"], logits)
