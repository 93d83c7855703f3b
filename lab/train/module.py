"""``CausalLMModule``: next-token training of a (variant-patched) Qwen3 with AdamW and warmup + cosine.

Loss: mean token cross-entropy ``L = -1/N Σ_t log p(x_{t+1} | x_{≤t})`` over the packed block; with a
``loss_chunk_size`` (``auto``: see :func:`resolve_chunk_size`) it is computed in fused chunks (:mod:`lab.train.chunked_loss`),
equal in value and gradients, without the full [B, T, V] logits and without a separate log-softmax backward.
Learning rate: linear warmup from 0 to ``lr`` over ``warmup_steps``, then cosine decay to
``min_lr_ratio · lr`` at the last optimizer step. Optimizer: AdamW, torch's fused single-kernel
implementation when ``optimizer.fused`` (as ``transformers.Trainer``'s default ``adamw_torch_fused``).

The instability interventions of Wortsman et al. 2023 are each one override (:func:`adamw_weight_decay`):

- ``optimizer.z_loss = c``: the objective is ``L + c · mean log² Z`` (PaLM's z-loss, c = 1e-4 there);
  ``train/loss`` and ``val/loss`` stay the cross-entropy, ``train/z_loss`` logs ``mean log² Z``;
- ``optimizer.warmup_steps``;
- ``optimizer.weight_decay_mode``: ``coupled`` (AdamW as torch implements it: θ ← θ − η_t · λ · θ, so the
  decay scales with the learning rate) or ``independent`` (θ ← θ − (η_t / η) · λ · θ: the schedule's shape
  only, as Loshchilov & Hutter proposed and Wortsman et al. use with λ = 1e-4); at a peak LR η,
  ``independent`` with λ equals ``coupled`` with λ / η;
- gradient clipping: ``trainer.gradient_clip_val=null`` turns it off.
With ``compile.enabled`` the decoder body and the loss chunk are ``torch.compile``d for training steps only;
validation and generation run them eagerly, so their other shapes never trigger recompilation. The rotary
tables then come from one op (:mod:`lab.train.rotary_tables`), in compiled and eager calls alike.
"""

import time
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import lightning as L
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lab.config.registry import TypedConfig
from lab.config.schema import CompileConfig, EvalConfig, OptimizerConfig
from lab.evaluate.graded import knowledge_accuracy, reasoning_accuracy
from lab.train.chunked_loss import (
    ChunkFn,
    chunk_loss_and_grads,
    chunked_lm_losses,
    compiled_chunk_fn,
    z_loss_term,
)
from lab.train.optim import adamw_with_schedule, total_optimizer_steps
from lab.train.rotary_tables import tabulate_rotary

AUTO_CHUNK_LOGITS = 2**22
AUTO_MIN_CHUNK_ROWS = 256


def resolve_chunk_size(value: int | str | None, vocab_size: int) -> int | None:
    """Token rows per loss chunk. ``auto``: ``max(256, 2^22 // V)``, chunks of about 4 Mi logits (16 MiB in
    fp32) and never fewer than 256 rows, so that each chunk's pass over the [V, H] LM head weight is shared by
    enough rows. At Qwen3's 151,936 tokens: 256 rows, 156 MB of fp32 logits per chunk instead of 1.24 GB for an
    8 × 256 batch. At 4,096: 1,024 rows; the LM head GEMMs of 256-row chunks ran at 80-95 GFLOP/s against
    115-135 for the model's other GEMMs, and compiled CPU steps with 512- to 2,048-row chunks were 2-3 %
    faster than with 256 (paired steps in one process). ``None``: the stock Hugging Face loss on the full logits."""
    if value == "auto":
        return max(AUTO_MIN_CHUNK_ROWS, AUTO_CHUNK_LOGITS // vocab_size)
    return int(value) if value else None


class CausalLMModule(L.LightningModule):
    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, optim: OptimizerConfig,
                 eval_cfg: EvalConfig, loss_chunk_size: int | str | None = "auto", compile_cfg: CompileConfig | None = None) -> None:
        super().__init__()
        self.model = model
        self.loss_chunk_size = resolve_chunk_size(loss_chunk_size, model.config.vocab_size)
        self.compile_cfg = compile_cfg or CompileConfig(enabled=False)
        self._compiled_decoder: Callable | None = None
        self._compiled_loss_chunk: ChunkFn | None = None
        self.tokenizer = tokenizer
        self.optim = optim
        self.eval_cfg = eval_cfg
        self.eval_rows: dict[str, list[dict]] = {"knowledge": [], "reasoning": []}
        self.tokens_seen = 0
        self._step_start: float | None = None

    @classmethod
    def from_run_config(cls, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, typed: TypedConfig,
                        eval_rows: dict[str, list[dict]] | None = None) -> "CausalLMModule":
        """The module a training run's typed config describes (``typed``, :func:`lab.config.registry.validate`):
        its optimizer, evaluation and loss chunks, and ``torch.compile`` as
        :func:`lab.train.compile_policy.should_compile` decides for its steps and device."""
        from lab.train.compile_policy import should_compile
        from lab.train.trainer import runs_on_gpu

        on_gpu = runs_on_gpu(typed.trainer.accelerator)
        compile_cfg = replace(typed.compile, enabled=should_compile(typed.compile, typed.trainer.max_steps, on_gpu))
        module = cls(model, tokenizer, typed.optimizer, typed.eval, typed.run.loss_chunk_size, compile_cfg)
        module.eval_rows = eval_rows or module.eval_rows
        return module

    def _compiling(self) -> bool:
        return self.compile_cfg.enabled is True and torch.is_grad_enabled()

    def _compile_options(self) -> dict:
        """``torch.compile``'s backend and mode from the ``compile`` config (both parts get the same)."""
        return {"backend": self.compile_cfg.backend, "mode": self.compile_cfg.mode}

    def decoder(self) -> Callable:
        """The decoder body (embeddings, layers, final norm) for this call: compiled for gradient steps when
        ``compile.enabled``, the eager module otherwise."""
        if not self._compiling():
            return self.model.model
        if self._compiled_decoder is None:
            if hasattr(self.model.model, "rotary_emb"):
                tabulate_rotary(self.model.model.rotary_emb)  # RoPE tables once per step, not per kernel
            self._compiled_decoder = torch.compile(self.model.model.forward, **self._compile_options())
        return self._compiled_decoder

    def loss_chunk_fn(self) -> ChunkFn:
        """The per-chunk loss and gradients: compiled with the decoder for gradient steps, eager otherwise."""
        if not self._compiling():
            return chunk_loss_and_grads
        if self._compiled_loss_chunk is None:
            self._compiled_loss_chunk = compiled_chunk_fn(**self._compile_options())
        return self._compiled_loss_chunk

    def z_loss(self) -> float:
        """The z-loss coefficient ``optimizer.z_loss`` for this call: 0 outside gradient steps (validation reports CE)."""
        return self.optim.z_loss if torch.is_grad_enabled() else 0.0

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> Any:
        """Without labels, the model's own output; with them, ``loss`` (the objective), ``ce`` (the mean
        cross-entropy, equal to ``loss`` without a z-loss) and ``z`` (mean log² Z, None without a z-loss)."""
        if labels is None:
            return self.model(input_ids=input_ids)
        hidden = self.decoder()(input_ids=input_ids).last_hidden_state
        z_loss = self.z_loss()
        if self.loss_chunk_size:
            objective, ce = chunked_lm_losses(hidden, self.model.lm_head, labels, self.loss_chunk_size, self.loss_chunk_fn(), z_loss)
            return SimpleNamespace(loss=objective, ce=ce, z=(objective.detach() - ce) / z_loss if z_loss else None)
        logits = self.model.lm_head(hidden)
        ce = self.model.loss_function(logits, labels, vocab_size=self.model.config.vocab_size)
        if not z_loss:
            return SimpleNamespace(loss=ce, ce=ce, z=None)
        z = z_loss_term(logits, labels)
        return SimpleNamespace(loss=ce + z_loss * z, ce=ce.detach(), z=z.detach())

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self._step_start = time.perf_counter()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self(**batch)
        tokens = batch["input_ids"].numel() * self.trainer.world_size
        self.tokens_seen += tokens
        self.log("train/loss", out.ce if out.z is not None else out.loss, prog_bar=True)
        if out.z is not None:
            self.log("train/z_loss", out.z)
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        self.log("train/tokens", float(self.tokens_seen))
        if self._step_start is not None:
            self.log("train/tokens_per_s", tokens / max(time.perf_counter() - self._step_start, 1e-9), prog_bar=True)
        return out.loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.log("val/loss", self(**batch).loss, sync_dist=True)

    def graded_accuracies(self) -> dict[str, float]:
        """``val/knowledge_acc`` and ``val/reasoning_acc`` (:mod:`lab.evaluate.graded`) on the graded rows there are."""
        accuracies = {}
        for name, fn in (("knowledge", knowledge_accuracy), ("reasoning", reasoning_accuracy)):
            rows = self.eval_rows.get(name) or []
            if rows:
                accuracies[f"val/{name}_acc"] = fn(self.model, self.tokenizer, rows)
        return accuracies

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self.eval_cfg.accuracy:
            return
        for key, value in self.graded_accuracies().items():
            self.log(key, value, sync_dist=True)

    def configure_optimizers(self) -> dict:
        optimizer, schedule = adamw_with_schedule(self.model.named_parameters(), self.optim, total_optimizer_steps(self.trainer),
                                                  fused=self._fused())
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _fused(self) -> bool:
        """``optimizer.fused``, except under ``16-mixed``: fp16's GradScaler would unscale inside the fused step,
        after the gradients were clipped in their scaled form."""
        return self.optim.fused and str(self.trainer.precision) != "16-mixed"

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Lightning's clipping, except under ``bf16-mixed`` with a fused AdamW: Lightning refuses to clip for any
        optimizer that can unscale gradients itself (which fused AdamW does only for fp16's GradScaler); bf16
        autocast has no scaler, so the gradients are the true ones and are clipped here as Lightning would:
        g ← g · min(1, c / ‖g‖₂) (``norm``) or g ← clamp(g, −c, c) (``value``)."""
        if gradient_clip_val and str(self.trainer.precision) == "bf16-mixed" and getattr(optimizer, "_step_supports_amp_scaling", False):
            params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            if (gradient_clip_algorithm or "norm") == "norm":
                torch.nn.utils.clip_grad_norm_(params, float(gradient_clip_val))
            else:
                torch.nn.utils.clip_grad_value_(params, float(gradient_clip_val))
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["tokens_seen"] = self.tokens_seen

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.tokens_seen = int(checkpoint.get("tokens_seen", 0))
