"""The output layout of an ablation run or sweep (the seed's checkpoint repository, improved)::

    <root>/<run>/model.pt, model.safetensors, config.json, metadata.json        base = before training
    <root>/<run>_finetuned/model.pt, model.safetensors, config.json, metadata.json,
                           train_metrics.json, tokenizer files,
                           checkpoints/step-N.ckpt + last.ckpt while training; once finished,
                           checkpoints/last.ckpt alone (lab.runs.final_checkpoint)
    <root>/all_train_metrics.json                                                one entry per run

``<run>`` is ``run_name`` (the variant's name by default).
"""

from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf
from torch import nn
from transformers import PreTrainedTokenizerBase

from ablations.card import ablation_card
from lab.model.remote_code import write_remote_code
from lab.model.variants import Variant, count_norms
from lab.runs.artifacts import atomic_write, save_weights, weight_settings, write_json
from lab.runs.checksums import write_sha256sums
from lab.runs.git import git_commit

SUMMARY_FILE = "all_train_metrics.json"


def base_dir(root: Path, run_name: str) -> Path:
    return Path(root) / run_name


def finetuned_dir(root: Path, run_name: str) -> Path:
    return Path(root) / f"{run_name}_finetuned"


def metadata(model: nn.Module, variant: Variant, cfg: DictConfig, seed: int, stage: str, **extra) -> dict:
    """What ``ablations.load`` needs to rebuild the model, plus provenance (``seed``: the run's typed seed)."""
    return {
        "variant": variant.name,
        "variant_spec": variant.to_dict(),
        "stage": stage,
        "base_model": cfg.model.pretrained or f"{cfg.model.name} (random init)",
        "init": cfg.model.init,
        "norm_counts": count_norms(model),
        "num_params": sum(p.numel() for p in model.parameters()),
        "seed": seed,
        "git_commit": git_commit(),
        "config": OmegaConf.to_container(cfg, resolve=True),
        **extra,
    }


def save_stage(folder: Path, model: nn.Module, meta: dict, tokenizer: PreTrainedTokenizerBase | None = None) -> None:
    """Weights (``model.safetensors`` and/or ``model.pt``, in the dtype the run's ``artifacts`` config names),
    ``config.json`` (a non-original variant's with its custom code, :mod:`lab.model.remote_code`), tokenizer,
    ``metadata.json``, the model card ``README.md``, then ``SHA256SUMS``."""
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model, folder, *weight_settings(meta.get("config")))
    model.config.to_json_file(str(folder / "config.json"))
    if meta.get("variant", "original") != "original":  # a custom-code model that stock transformers rebuilds exactly
        write_remote_code(folder, meta["variant_spec"])
    if tokenizer is not None:
        tokenizer.save_pretrained(str(folder))
    write_json(folder / "metadata.json", meta)
    atomic_write(folder / "README.md", lambda tmp: tmp.write_text(ablation_card(meta)))
    write_sha256sums(folder)


def write_train_metrics(folder: Path, rows: list[dict]) -> None:
    write_json(folder / "train_metrics.json", rows)


class SaveBaseStage(L.Callback):
    """Writes the ``<run>/`` folder (the untrained, patched model) once, on global rank 0, before training."""

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder, self.meta = folder, meta

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and not (self.folder / "metadata.json").is_file():
            save_stage(self.folder, pl_module.model, self.meta)
