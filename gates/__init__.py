"""Lambda gates (seed 000): learnable per-neuron sigmoid gates that separate knowledge from reasoning neurons.

    python -m gates.train                       # train gates on the tiny reference model (trained first if missing)
    python -m gates.evaluate                    # gates vs random masking: fact recall and arithmetic
    python -m gates.apply mode=hard threshold=0.478   # a loadable, masked model folder

Modules: :mod:`gates.gated_ffn` (the gated FFN), :mod:`gates.losses`, :mod:`gates.data`,
:mod:`gates.module` (Lightning), :mod:`gates.stats` and :mod:`gates.files` (the seed's files),
:mod:`gates.masking` (hard / soft application), :mod:`gates.evaluate`.
"""

from gates.files import read_lambda_logits, read_neuron_indices, write_gate_files
from gates.gated_ffn import LambdaGatedFFN, patch_gates
from gates.masking import apply_gates, hard_mask

__all__ = ["LambdaGatedFFN", "apply_gates", "hard_mask", "patch_gates", "read_lambda_logits", "read_neuron_indices", "write_gate_files"]
