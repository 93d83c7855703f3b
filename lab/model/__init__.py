"""Build a (variant-patched) stock ``Qwen3ForCausalLM`` from a model config, and its tokenizer.

A model config (``conf/model/*.yaml``) names either a bundled/small architecture (``config:``) or a
pretrained checkpoint (``pretrained:``, a hub id or a local folder) and how to initialise it
(``init: random | pretrained``). The variant is applied after construction (:mod:`lab.model.variants`), so
pretrained RMSNorm weights are carried into replacement norms by each norm's documented rule.
"""

import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase, Qwen3Config, Qwen3ForCausalLM

from lab.config.errors import UserError
from lab.config.registry import with_defaults
from lab.config.schema import ModelConfig
from lab.model.remote_code import folder_config, read_qwen3_config
from lab.model.variants import Variant, apply_variant
from lab.runs.artifacts import load_weights, read_json
from lab.runs.checksums import check_if_summed


def _as_dict(cfg: Any) -> dict:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg or {})


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or os.sep != "/" and os.sep in source


def check_pretrained_source(source: str, needs: str = "config.json") -> str:
    """Validate a hub id or a local folder holding ``needs``; return it (expanded). Raises :class:`UserError`."""
    path = Path(source).expanduser()
    if path.exists():
        if not (path / needs).is_file():
            raise UserError(f"folder {source} has no {needs}; point at a saved Hugging Face model/tokenizer folder")
        return str(path)
    if _looks_like_path(source):
        raise UserError(f"model path {source} does not exist; pass an existing folder or a hub id like Qwen/Qwen3-0.6B")
    return source


def load_pretrained_config(source: str) -> Qwen3Config:
    """The Qwen3 config of a checkpoint; refuses other architectures with one clear line."""
    source = check_pretrained_source(source)
    try:
        config = folder_config(Path(source)) if Path(source).is_dir() else AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        hint = " (HF_HUB_OFFLINE is set: download it first or pass a local folder)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise UserError(f"cannot load model config {source!r}{hint}: {str(err).splitlines()[0]}") from None
    if config.model_type != "qwen3":
        raise UserError(f"{source} is a {config.model_type!r} checkpoint, not Qwen3; this suite patches Qwen3 (model_type 'qwen3') only")
    return config


def load_tokenizer(model_cfg: DictConfig | dict) -> PreTrainedTokenizerBase:
    """The tokenizer named by ``model.tokenizer`` (a folder or hub id), with a pad token set."""
    cfg = _as_dict(model_cfg)
    source = str(cfg.get("tokenizer") or cfg.get("pretrained"))
    source = check_pretrained_source(source, needs="tokenizer_config.json")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot load tokenizer {source!r}: {str(err).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def model_config(model_cfg: DictConfig | dict, vocab_size: int | None = None) -> Qwen3Config:
    """The architecture: the pretrained checkpoint's config (if any) updated by ``model.config``."""
    cfg = _as_dict(model_cfg)
    overrides = {k: v for k, v in (cfg.get("config") or {}).items() if v is not None}
    if cfg.get("pretrained"):
        config = load_pretrained_config(str(cfg["pretrained"]))
        for key, value in overrides.items():
            setattr(config, key, value)
    else:
        if vocab_size is not None:
            overrides.setdefault("vocab_size", vocab_size)
        config = Qwen3Config(**overrides)
    return config


def saved_variant(folder: str | Path) -> Variant | None:
    """The variant an ablation artifact folder (``metadata.json`` with ``variant_spec``) was saved with."""
    meta = Path(folder) / "metadata.json"
    if not meta.is_file():
        return None
    spec = read_json(meta).get("variant_spec")
    return Variant.from_config(spec) if spec else None


def load_artifact(path: str | Path) -> Qwen3ForCausalLM:
    """The model saved in an ablation artifact folder, in eval mode.

    The architecture comes from ``config.json``, the norm patch from ``metadata.json``; weights are
    loaded with ``strict=True`` from ``model.safetensors`` (``model.pt`` via ``weights_only=True`` if absent).
    """
    folder = Path(path)
    variant = saved_variant(folder) if (folder / "config.json").is_file() else None
    if variant is None:
        raise UserError(f"{folder} is not an ablation artifact folder (needs metadata.json and config.json)")
    weights = "model.safetensors" if (folder / "model.safetensors").is_file() else "model.pt"
    check_if_summed(folder, ["config.json", "metadata.json", weights])
    model = Qwen3ForCausalLM(read_qwen3_config(folder / "config.json"))
    apply_variant(model, variant)
    load_weights(model, folder, strict=True)
    return model.eval()


def weights_dtype(precision: str, trains_weights: bool) -> torch.dtype:
    """The dtype to load a model in for training at Lightning ``precision``: fp32 masters when its weights train
    under ``32-true`` or a ``*-mixed`` precision; the 16-bit type when they do not need masters (``*-true``), or do
    not train at all (a frozen model under mixed precision: autocast would cast every weight to it anyway)."""
    half = torch.bfloat16 if precision.startswith("bf16") else torch.float16 if precision.startswith("16") else None
    if half is None or (trains_weights and precision.endswith("mixed")):
        return torch.float32
    return half


def build_model(model_cfg: DictConfig | dict, variant: Variant, vocab_size: int | None = None,
                dtype: torch.dtype = torch.float32, calibration_ids: torch.Tensor | None = None) -> Qwen3ForCausalLM:
    """Stock Qwen3 (random or pretrained init, in ``dtype``) with ``variant`` patched in, in train mode
    (``calibration_ids``: the blocks a ``carry_over=fit`` variant is fitted on, :func:`lab.model.variants.apply_variant`).

    A pretrained checkpoint is read straight into ``dtype`` (no fp32 copy on the way for a 16-bit one). A
    pretrained ablation artifact of a non-``original`` variant is loaded as saved (its norms are not RMSNorms
    any more); asking for a different variant on it is refused.
    """
    cfg = _as_dict(model_cfg)
    if with_defaults(ModelConfig, cfg).init == "pretrained":  # a plain dict too: the typed defaults and checks
        if not cfg.get("pretrained"):
            raise UserError("model.init=pretrained needs model.pretrained (a hub id or local folder)")
        saved = saved_variant(check_pretrained_source(str(cfg["pretrained"])))
        if saved is not None and saved.name != "original":
            if variant.name not in ("original", saved.name):
                raise UserError(f"{cfg['pretrained']} was trained as variant {saved.name!r}; use variant={saved.name} with it")
            return load_artifact(str(cfg["pretrained"])).to(dtype).train()
        config = model_config(cfg)
        model = Qwen3ForCausalLM.from_pretrained(check_pretrained_source(str(cfg["pretrained"])), config=config, dtype=dtype)
    else:
        model = Qwen3ForCausalLM(model_config(cfg, vocab_size))
    apply_variant(model, variant, calibration_ids)
    return model.to(dtype).train()  # from_pretrained returns eval mode; every module trains
