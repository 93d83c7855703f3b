"""The relearning attack: does "forgotten" knowledge come back after a little fine-tuning? (Lynch et al. 2024,
Deeb & Roger 2024).

The edited model (its masked neurons' ``down_proj`` columns scaled in the weights) is fine-tuned as a causal LM
on the texts packed into ``seq_len`` blocks (:func:`lab.data.packing.pack_documents`) for ``max(steps)`` AdamW
steps at a constant learning rate, no weight decay, on texts that hold none of the forget facts. Recall of the
forget facts is graded before step 1 and after each step count of ``steps``: an edit that removed the knowledge
keeps it low; one that hid it sees it return within a few steps.

Every weight is free, except with ``frozen`` (a bool mask [L, I] of edited neurons): their ``down_proj`` columns
get a zero gradient, so AdamW (no weight decay) leaves them exactly as edited. Frozen, the attack cannot simply
re-grow the zeroed columns; whatever comes back is rebuilt around the edit. :mod:`gates.localise.benchmark` runs the attacks
of :data:`gates.schema.ATTACKS`.
"""

import gc
from collections.abc import Callable

import datasets
import lightning as L
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.models.qwen3.modeling_qwen3 import Qwen3MLP

from lab.config.errors import UserError
from lab.config.schema import EvalConfig, OptimizerConfig
from lab.data.loaders import resumable_loader
from lab.data.packing import block_collate, pack_documents
from lab.train.module import CausalLMModule


def freeze_columns(model: PreTrainedModel, frozen: torch.Tensor) -> list:
    """Zero the gradient of the ``frozen`` [L, I] neurons' ``down_proj`` columns; the hook handles, to remove."""
    mlps = [m for m in model.modules() if isinstance(m, Qwen3MLP)]
    if frozen.shape != (len(mlps), mlps[0].intermediate_size):
        raise UserError(f"frozen neurons of shape {tuple(frozen.shape)} for a model of {len(mlps)} layers x "
                        f"{mlps[0].intermediate_size} neurons")
    handles = []
    for mlp, row in zip(mlps, frozen, strict=True):
        keep = (~row).to(mlp.down_proj.weight.dtype).to(mlp.down_proj.weight.device)  # [I]: 0 on a frozen column
        handles.append(mlp.down_proj.weight.register_hook(lambda grad, keep=keep: grad * keep))
    return handles


class RecallAtSteps(L.Callback):
    """``grade(model)`` after each optimizer step count of ``steps`` (0: before the first step)."""

    def __init__(self, steps: list[int], grade: Callable[[PreTrainedModel], float]) -> None:
        self.steps, self.grade, self.curve = sorted(set(steps)), grade, {}

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if 0 in self.steps:
            self.curve[0] = self.grade(module.model)

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args) -> None:
        if trainer.global_step in self.steps and trainer.global_step not in self.curve:
            self.curve[trainer.global_step] = self.grade(module.model)


def relearn(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], steps: list[int],
            grade: Callable[[PreTrainedModel], float], lr: float, batch_size: int, seq_len: int, seed: int,
            accelerator: str = "auto", frozen: torch.Tensor | None = None) -> dict[int, float]:
    """``{k: grade after k steps}`` for every k of ``steps``, fine-tuning ``model`` in place on ``texts`` (the
    ``frozen`` neurons' ``down_proj`` columns held fixed)."""
    if max(steps) == 0:
        return {0: grade(model)}
    for param in model.parameters():
        param.requires_grad_(True)
    blocks = pack_documents(datasets.Dataset.from_dict({"text": texts}), tokenizer, seq_len)
    if len(blocks) == 0:
        raise UserError(f"the relearning texts hold fewer than {seq_len} tokens: nothing to fine-tune on")
    loader = resumable_loader(blocks, min(batch_size, len(blocks)), collate=block_collate, seed=seed)
    optim = OptimizerConfig(lr=lr, warmup_steps=0, weight_decay=0.0, min_lr_ratio=1.0)
    module = CausalLMModule(model, tokenizer, optim, EvalConfig(accuracy=False), loss_chunk_size=None)
    curve = RecallAtSteps(steps, grade)
    torch.manual_seed(seed)
    trainer = L.Trainer(max_steps=max(steps), max_epochs=-1, accelerator=accelerator, devices=1, logger=False, callbacks=[curve],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0, gradient_clip_val=1.0)
    handles = freeze_columns(model, frozen) if frozen is not None else []
    try:
        trainer.fit(module, train_dataloaders=loader)
    finally:
        for handle in handles:
            handle.remove()
        for optimizer in trainer.optimizers:  # AdamW's moments (2x the model) would outlive the attack until a GC
            optimizer.state.clear()
        model.zero_grad(set_to_none=True)
        gc.collect()
    model.eval()
    return {k: curve.curve[k] for k in sorted(curve.curve)}
