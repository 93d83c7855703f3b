"""A gate job's plan terms for ``python -m lab.plan --config-name gates_train`` (``plan_terms:`` in
conf/gates_train.yaml; :mod:`lab.plan.terms`).

Gate training trains the λ only, G = L · I logits (one per FFN neuron), over a frozen model (16-bit weights under
16-bit precisions: :func:`lab.model.weights_dtype`). One step's backward holds the forget batch and its
``retain_per_forget`` retain batches, R = B · T · (1 + r) rows, and the retain KL's logits one ``kl_chunk_size``
chunk of each retain batch at a time. Each gate multiplies its neuron's activation once more: 2I extra
activation elements per row and layer. Disk:

    exports     = 4 · G + 8 · G              lambda_logits.pt (fp32 λ); neuron_indices.json, at most ~8 bytes a neuron
    checkpoint  = 3 · 4 · G                  λ and AdamW's two moments, fp32
    during run  = exports + (⌊steps / checkpoint_every_n_steps⌋ + 1) · checkpoint

kilobytes to megabytes, whatever the model's size.
"""

from typing import Any

import torch
from omegaconf import DictConfig

from lab.model import weights_dtype
from lab.plan.memory import Job
from lab.plan.terms import JobShape


def gate_disk(gates: int, steps: int | None, every: int) -> dict[str, Any]:
    """Bytes of a gate job's exports and λ-only checkpoints (the module docstring)."""
    exports = 4 * gates * 3
    checkpoint = 3 * 4 * gates
    during = exports + (steps // max(every, 1) + 1) * checkpoint if steps and steps > 0 else None
    return {"stage_bytes": exports, "final_checkpoint_bytes": checkpoint, "finished_bytes": exports + checkpoint,
            "during_run_bytes": during}


def gate_terms(cfg: DictConfig, shape: JobShape) -> tuple[Job, dict[str, Any]]:
    """The λ train over a frozen model (the module docstring)."""
    config = shape.config
    gates = config.num_hidden_layers * config.intermediate_size
    retain = cfg.gates.retain_per_forget  # typed by gates.schema.GatesConfig
    frozen = torch.finfo(weights_dtype(shape.precision, trains_weights=False)).bits // 8
    job = Job(shape.params, shape.matmul_params, gates, shape.batch * shape.seq * (1 + retain),
              shape.batch * retain * cfg.gates.kl_chunk_size, shape.precision, shape.ddp, shape.gpu,
              extra_layer_activations=2 * config.intermediate_size, frozen_bytes=frozen)
    return job, gate_disk(gates, shape.steps, shape.checkpoint_every)
