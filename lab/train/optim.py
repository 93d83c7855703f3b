"""AdamW and its learning-rate schedule, built from the typed ``optimizer`` node (:class:`OptimizerConfig`) for
every tool that trains (:mod:`lab.train.module`, :mod:`gates.module`, :mod:`benchmarks.trainer`), so a new
optimizer key is read in one place.

Schedule: the multiplier of the peak ``lr`` at optimizer step s is (s + 1) / w for s < w (``warmup_steps``, or
⌊``warmup_fraction`` · T⌋: :meth:`OptimizerConfig.warmup`), then
r + (1 − r) · ½ (1 + cos(π · min(1, (s − w) / (T − w)))) with r = ``min_lr_ratio`` and T the run's optimizer steps.
Parameters of two or more dimensions (matrices) decay with λ = ``weight_decay`` (see :func:`adamw_weight_decay`);
vectors (norm scales, biases, gate logits) do not.
"""

import math
from collections.abc import Iterable

import lightning as L
import torch
from torch.optim.lr_scheduler import LambdaLR

from lab.config.schema import WEIGHT_DECAY_MODES, OptimizerConfig


def warmup_cosine(warmup_steps: int, total_steps: int, min_lr_ratio: float):
    """Multiplier of the base lr at optimizer step s (see module docstring)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def total_optimizer_steps(trainer: L.Trainer) -> int:
    """The schedule's length: ``max_steps`` when set, else Lightning's estimate from the epochs.

    ``estimated_stepping_batches`` sets up the train loader before a checkpoint is restored, and Lightning
    then never loads the loader's saved position (Lightning issue 20550): a resumed run would replay the
    epoch from its start. With ``max_steps`` set (every config here), resumes continue exactly.
    """
    if trainer.max_steps > 0:
        return int(trainer.max_steps)
    return int(trainer.estimated_stepping_batches)




def adamw_weight_decay(weight_decay: float, lr: float, mode: str) -> float:
    """The ``weight_decay`` to give torch's AdamW, whose step decays θ by ``η_t · wd``: λ itself (``coupled``), or
    λ / η (``independent``), so that the decay per step is ``(η_t / η) · λ`` whatever the peak LR η."""
    if mode not in WEIGHT_DECAY_MODES:
        raise ValueError(f"optimizer.weight_decay_mode={mode!r}; expected one of {', '.join(WEIGHT_DECAY_MODES)}")
    return weight_decay / lr if mode == "independent" else weight_decay


def adamw_with_schedule(named_parameters: Iterable[tuple[str, torch.nn.Parameter]], optim: OptimizerConfig,
                        total_steps: int, fused: bool | None = None, node: str = "optimizer",
                        length: str = "trainer.max_steps") -> tuple[torch.optim.AdamW, LambdaLR]:
    """AdamW over the trainable parameters (matrices decayed, vectors not: the module docstring) with ``optim``'s
    peak LR, betas, eps and weight decay, and the warmup-cosine :class:`LambdaLR` over ``total_steps``. ``fused``
    (default ``optim.fused``) picks torch's single-kernel implementation; false: torch's default one. ``node`` and
    ``length`` name the config keys of the optimizer and of the run's length in the error of a run shorter than its
    warmup."""
    trainable = [p for _, p in named_parameters if p.requires_grad]
    decay, no_decay = [p for p in trainable if p.ndim >= 2], [p for p in trainable if p.ndim < 2]
    weight_decay = adamw_weight_decay(optim.weight_decay, optim.lr, optim.weight_decay_mode)
    groups = [{"params": params, "weight_decay": wd} for params, wd in ((decay, weight_decay), (no_decay, 0.0)) if params]
    use_fused = optim.fused if fused is None else fused
    optimizer = torch.optim.AdamW(groups, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps, fused=use_fused or None)
    return optimizer, LambdaLR(optimizer, warmup_cosine(optim.warmup(total_steps, node, length), total_steps, optim.min_lr_ratio))
