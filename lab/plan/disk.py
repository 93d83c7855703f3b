"""Predicted disk of one training job's artifacts, from its parameter count and config (:mod:`lab.plan`).

A norm-ablation job (``ablations.train``) writes, with N unique parameters (tied weights once), N_t trained
ones, p bytes per parameter in training (4, or 2 under ``bf16-true``/``16-true``) and s bytes per saved one
(``artifacts.dtype``)::

    stage       = |artifacts.formats| · N · s            each of <run>/ (base) and <run>_finetuned/
    final ckpt  = N · p  [+ 2 · N_t · p with artifacts.keep_optimizer_state]   checkpoints/last.ckpt
    finished    = 2 · stage + final ckpt
    during run  = 2 · stage + (⌊steps / checkpoint_every_n_steps⌋ + 1) · (N · p + 2 · N_t · p)

(step checkpoints carry AdamW's state and are all kept until the run finishes, then removed). A tool that
trains and writes something else states its own disk with its plan terms (:mod:`lab.plan.terms`; gates:
``gates.plan``).
"""

from typing import Any

from lab.plan.memory import DTYPE_BYTES, PARAM_BYTES


def ablation_disk(params: int, trainable: int, precision: str, formats: int, save_dtype: str, keep_optimizer_state: bool,
                  steps: int | None, every: int) -> dict[str, Any]:
    """Bytes of a finished norm-ablation job and its peak during training (``None`` when the steps are unknown)."""
    p, s = PARAM_BYTES[precision], DTYPE_BYTES[save_dtype]
    stage = formats * params * s
    final = params * p + (2 * trainable * p if keep_optimizer_state else 0)
    full_checkpoint = params * p + 2 * trainable * p
    during = 2 * stage + (steps // max(every, 1) + 1) * full_checkpoint if steps and steps > 0 else None
    return {"stage_bytes": stage, "final_checkpoint_bytes": final, "finished_bytes": 2 * stage + final, "during_run_bytes": during}

