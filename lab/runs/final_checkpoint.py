"""What a finished run keeps of its checkpoints: one, ``checkpoints/last.ckpt``.

During training :class:`lab.runs.checkpointing.StepCheckpoint` writes ``step-N.ckpt`` every N steps and
``last.ckpt`` for resuming a killed run. Once the run has finished, the step checkpoints are removed and
``last.ckpt`` is rewritten with the final state: model weights and loop state, and AdamW's moments only with
``artifacts.keep_optimizer_state=true``. AdamW holds two fp32 tensors per parameter, so at Qwen3-0.6B the
optimizer state is 4.8 GB of a 7.2 GB checkpoint. A checkpoint without it cannot resume training through
``ckpt_path`` (Lightning refuses it); continue from a finished run with ``model.pretrained=<its finetuned
stage>`` instead. A gate run keeps its AdamW state: it trains the λ only, so the whole checkpoint is
kilobytes, and ``ckpt_path=<run>/checkpoints/last.ckpt trainer.max_steps=<more>`` continues it.
"""

from pathlib import Path

import lightning as L

from lab.runs.checkpoint_check import sidecar


def keep_final_checkpoint(trainer: L.Trainer, checkpoint_dir: Path, keep_optimizer_state: bool) -> Path:
    """Write ``checkpoint_dir/last.ckpt`` (all ranks call it: Lightning saves collectively) and, on global
    rank 0, remove the run's ``step-*.ckpt`` and their sidecars (damaged ones set aside stay); returns the checkpoint's path."""
    path = Path(checkpoint_dir) / "last.ckpt"
    trainer.save_checkpoint(path, weights_only=not keep_optimizer_state)
    if trainer.is_global_zero:
        for step_checkpoint in Path(checkpoint_dir).glob("step-*.ckpt"):
            step_checkpoint.unlink()
            sidecar(step_checkpoint).unlink(missing_ok=True)
    return path
