"""Predicted peak memory of one training job per device, from its architecture and config (:mod:`lab.plan`).

With N parameters (N_t of them trained: all for a norm ablation, the λ only for gates), p bytes per parameter
(4 under ``32-true`` and the ``*-mixed`` precisions, whose masters are fp32; 2 under ``bf16-true``/``16-true``)
and a bytes per activation (4 under ``32-true``, else 2)::

    weights      = N · p                        a frozen model (gates): N · 2 under 16-bit precisions (lab.model.weights_dtype)
    gradients    = N_t · p
    optimizer    = 2 · N_t · p                  AdamW's exp_avg and exp_avg_sq, in the parameters' dtype
    autocast     = 2 · N_matmul                 *-mixed over fp32 weights: autocast keeps a 16-bit copy of each matmul weight
    ddp buckets  = N_t · p                      strategy ddp: DDP's gradient buckets (gradient_as_bucket_view off)
    activations  = L · R · (4d + 4·h·d_h + 4·k·d_h + 4I + e) · a + 2 · R · d · a
    loss chunk   = 2 · c · V · 4 + R · d · 4    one chunk's fp32 logits and softmax, and the hidden states' gradient
    runtime      = the process itself: torch, transformers, Lightning, the data (CPU); the CUDA context (GPU)

R is the number of token rows that keep activations for one backward (batch · sequence; gates: the forget
batch and its ``retain_per_forget`` retain batches), d the hidden size, I the intermediate size, h / k the
query / key-value heads of width d_h, c the loss chunk's rows (``loss_chunk_size``; the retain KL's chunk for
gates), V the vocabulary. The activation count is what a Qwen3 decoder layer saves for its backward with
fused (flash / memory-efficient) attention, per token: both RMSNorms' inputs and outputs (4d), q and k before
and after their norm and RoPE with the attention output (4·h·d_h + 4·k·d_h, counting v), and the SwiGLU's
gate, up, activation and product (4I); e is what a tool adds per row and layer (``Job.extra_layer_activations``;
gates: each gate multiplies the activation once more, 2I).

At the end of a run on rank 0 the weights are written while the optimizer still lives (the gradients are freed
first): on CPU ``save`` = weights + optimizer + the written copy (safetensors serialises a whole byte copy of
the state dict; a cast to ``artifacts.dtype`` adds the cast tensors) + runtime; on a GPU the copy is made in
host memory. The peak is the larger of the training step and the save.
"""

from dataclasses import dataclass
from typing import Any

from transformers import Qwen3Config

PARAM_BYTES = {"32-true": 4, "32": 4, "bf16-mixed": 4, "16-mixed": 4, "bf16-true": 2, "16-true": 2, "64-true": 8}
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# The process without the model: torch, transformers, Lightning, Hydra, datasets, W&B and the data (measured here,
# 2 steps of the 1 M-parameter tiny model: ablations.train peaked at 0.76 GiB, 0.81 with W&B; gates.train at 0.99).
HOST_RUNTIME_BYTES = int(1.0 * 2**30)
CUDA_CONTEXT_BYTES = int(0.5 * 2**30)  # the CUDA context and cuBLAS workspaces, outside torch's allocator


@dataclass(frozen=True)
class Job:
    """What the memory of one training job depends on."""

    params: int
    matmul_params: int
    trainable: int
    rows: int                 # token rows holding activations for one backward
    loss_rows: int            # rows of the vocabulary projection alive at once
    precision: str
    ddp: bool
    gpu: bool
    extra_layer_activations: int = 0  # e: activation elements per row and layer a tool's modules add (gates: 2I)
    save_params: int = 0      # parameters written at the end (tied weights once); 0: nothing written
    save_dtype: str = "float32"
    frozen_bytes: int | None = None  # bytes per weight of a frozen model (lab.model.weights_dtype), else p


def _activation_elements_per_row(config: Qwen3Config, extra_per_layer: int) -> int:
    d, inter, d_h = config.hidden_size, config.intermediate_size, config.head_dim
    per_layer = 4 * d + 4 * config.num_attention_heads * d_h + 4 * config.num_key_value_heads * d_h + 4 * inter
    return config.num_hidden_layers * (per_layer + extra_per_layer) + 2 * d


def predict_memory(config: Qwen3Config, job: Job) -> dict[str, Any]:
    """Bytes per component of the training step and of the final save, and the peak (see the module docstring)."""
    if job.precision not in PARAM_BYTES:
        raise ValueError(f"precision {job.precision!r}; known: {', '.join(PARAM_BYTES)}")
    p = PARAM_BYTES[job.precision]
    act = 4 if p >= 4 and not job.precision.endswith("mixed") else 2
    runtime = CUDA_CONTEXT_BYTES if job.gpu else HOST_RUNTIME_BYTES
    weight = job.frozen_bytes or p
    step = {
        "weights": job.params * weight,
        "gradients": job.trainable * p,
        "optimizer": 2 * job.trainable * p,
        "autocast": 2 * job.matmul_params if job.precision.endswith("mixed") and weight == 4 else 0,
        "ddp_buckets": job.trainable * p if job.ddp else 0,
        "activations": job.rows * _activation_elements_per_row(config, job.extra_layer_activations) * act,
        "loss_chunk": 2 * job.loss_rows * config.vocab_size * 4 + job.rows * config.hidden_size * 4,
        "runtime": runtime,
    }
    written = job.save_params * DTYPE_BYTES[job.save_dtype]
    cast = written if DTYPE_BYTES[job.save_dtype] != p else 0
    # on a GPU the written copy is made in host memory: the device holds no more than during the step
    save = {} if job.gpu else {"weights": step["weights"], "optimizer": step["optimizer"], "written_copy": written + cast,
                                "runtime": runtime}
    return {"step": step, "save": save, "step_bytes": sum(step.values()), "save_bytes": sum(save.values()),
            "peak_bytes": max(sum(step.values()), sum(save.values())), "device": "gpu" if job.gpu else "cpu",
            "precision": job.precision}
