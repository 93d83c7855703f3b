"""``GateTrainingModule``: trains only the λ of a gated, frozen Qwen3 with L = λ_f·L_f + λ_r·L_r.

The losses are in :mod:`gates.losses`. Optimizer: AdamW on the λ (no weight decay), learning rate
``gates.lr`` with linear warmup over ``gates.warmup_steps`` then cosine decay to
``gates.min_lr_ratio · lr`` at the last step. Checkpoints hold the λ only (the base weights are frozen
and come from the base model), so a 0.6B-model checkpoint is kilobytes, not gigabytes.

Logged every step: ``train/forget_loss``, ``train/retain_loss``, ``train/loss``, ``train/entity_ce``,
``train/lr``; ``gates/mean|std|min|max`` of g = sigmoid(λ), ``gates/frac_below_<t>`` for each of
``gates.log_thresholds``, and ``gates/threshold_off<q>``: the current threshold masking q% of neurons.
"""

from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig
from torch.optim.lr_scheduler import LambdaLR
from transformers import PreTrainedModel

from gates.gated_ffn import gate_logits, gated_mlps
from gates.losses import forget_loss, retain_loss, total_loss
from gates.stats import OFF_FRACTIONS, fraction_below
from lab.train.module import total_optimizer_steps, warmup_cosine

LAMBDA_SUFFIX = "mlp.lambda_logits"


class GateTrainingModule(L.LightningModule):
    def __init__(self, model: PreTrainedModel, gates_cfg: DictConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = gates_cfg
        self.strict_loading = False  # checkpoints carry the λ only

    def lambda_parameters(self) -> list[torch.nn.Parameter]:
        return [m.lambda_logits for m in gated_mlps(self.model)]

    def training_step(self, batch: dict[str, dict[str, torch.Tensor]], batch_idx: int) -> torch.Tensor:
        cfg = self.cfg
        forget, entity_ce = forget_loss(self.model, batch["forget"], float(cfg.beta))
        retain = retain_loss(self.model, batch["retain"], float(cfg.temperature), int(cfg.kl_chunk_size))
        loss = total_loss(forget, retain, float(cfg.lambda_forget), float(cfg.lambda_retain))
        self.log_dict({"train/loss": loss, "train/forget_loss": forget, "train/retain_loss": retain,
                       "train/entity_ce": entity_ce}, prog_bar=True)
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        self._log_gates()
        return loss

    def _log_gates(self) -> None:
        gates = torch.sigmoid(gate_logits(self.model))
        flat, ordered = gates.flatten(), torch.sort(gates.flatten()).values
        stats = {"gates/mean": flat.mean(), "gates/std": flat.std(), "gates/min": flat.min(), "gates/max": flat.max()}
        for t in self.cfg.log_thresholds:
            stats[f"gates/frac_below_{float(t):g}"] = torch.tensor(fraction_below(gates, float(t)))
        for q in OFF_FRACTIONS:
            stats[f"gates/threshold_off{round(q * 100)}"] = ordered[min(round(q * flat.numel()), flat.numel() - 1)]
        self.log_dict(stats)

    def configure_optimizers(self) -> dict:
        cfg = self.cfg
        optimizer = torch.optim.AdamW(self.lambda_parameters(), lr=float(cfg.lr), betas=tuple(cfg.betas), weight_decay=0.0)
        total = total_optimizer_steps(self.trainer)
        schedule = LambdaLR(optimizer, warmup_cosine(int(cfg.warmup_steps), total, float(cfg.min_lr_ratio)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.endswith(LAMBDA_SUFFIX)}
