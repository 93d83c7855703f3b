"""``GateTrainingModule``: trains only the λ of a gated, frozen Qwen3 with L = λ_f·L_f + λ_r·L_r.

The losses are in :mod:`gates.losses`. Optimizer: AdamW on the λ (vectors: no weight decay) as the typed
``gates.optimizer`` node says (:func:`lab.train.optim.adamw_with_schedule`, the one builder every tool uses):
learning rate ``lr`` with linear warmup over ``warmup_steps`` then cosine decay to ``min_lr_ratio · lr`` at the
last step. Checkpoints hold the λ only (the base weights are frozen
and come from the base model), so a 0.6B-model checkpoint is kilobytes, not gigabytes.

Logged every step: ``train/forget_loss``, ``train/retain_loss``, ``train/loss``, ``train/entity_ce``,
``train/lr``; ``gates/mean|std|min|max`` of g = sigmoid(λ), ``gates/frac_below_<t>`` for each of
``gates.log_thresholds``, and ``gates/threshold_off<q>``: the current threshold masking q% of neurons.
"""

from typing import Any

import lightning as L
import torch
from transformers import PreTrainedModel

from gates.gated_ffn import gate_logits, gated_mlps
from gates.losses import forget_loss, retain_loss, total_loss
from gates.schema import GatesConfig
from gates.stats import OFF_FRACTIONS, fraction_below
from lab.train.optim import adamw_with_schedule, total_optimizer_steps

LAMBDA_SUFFIX = "mlp.lambda_logits"


class GateTrainingModule(L.LightningModule):
    def __init__(self, model: PreTrainedModel, gates_cfg: GatesConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = gates_cfg
        self.strict_loading = False  # checkpoints carry the λ only

    def lambda_parameters(self) -> list[torch.nn.Parameter]:
        return [m.lambda_logits for m in gated_mlps(self.model)]

    def training_step(self, batch: dict[str, dict[str, torch.Tensor]], batch_idx: int) -> torch.Tensor:
        cfg = self.cfg
        forget, entity_ce = forget_loss(self.model, batch["forget"], cfg.beta)
        retain = retain_loss(self.model, batch["retain"], cfg.temperature, cfg.kl_chunk_size)
        loss = total_loss(forget, retain, cfg.lambda_forget, cfg.lambda_retain)
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
            stats[f"gates/frac_below_{t:g}"] = torch.tensor(fraction_below(gates, t))
        for q in OFF_FRACTIONS:
            stats[f"gates/threshold_off{round(q * 100)}"] = ordered[min(round(q * flat.numel()), flat.numel() - 1)]
        self.log_dict(stats)

    def configure_optimizers(self) -> dict:
        named = [(f"lambda_logits.{layer}", p) for layer, p in enumerate(self.lambda_parameters())]
        optimizer, schedule = adamw_with_schedule(named, self.cfg.optimizer, total_optimizer_steps(self.trainer),
                                                  node="gates.optimizer", length="gates.epochs")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.endswith(LAMBDA_SUFFIX)}
