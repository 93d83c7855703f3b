"""Two rankings of FFN neurons by what they write to the forget answers' logits: seed 002's, in the benchmark.

For fact f with answer a_f, let t_f be the first token of " a_f" (the greedy answer after ``A:`` starts with a
space), u_f = W_U[t_f] its unembedding row and e_f = E[t_f] its (input) embedding row; d_lj = W_down,l[:, j] is
neuron j's down direction in layer l, and h_lj its SwiGLU activation (the input of ``down_proj``).

- **Gate 3's attribution** (:mod:`vindex.gate3`'s step 1, summed over facts): the neuron's direct contribution to
  the answer's logit at the last position of the graded prompt ``Q: <question> A:`` (final norm ignored)::

      gate3_lj = Σ_f  h_lj(prompt_f) · (u_f · d_lj)

- **The vindex's features**: a weight-only rule, no forward pass. In a full vindex every neuron is a feature, and
  ``down_meta.bin`` records the tokens its down direction writes, the logits E · d_lj through the raw embedding
  (:mod:`vindex.down_meta`). The rule ranks neurons by those logits for the forget answers::

      vindex_lj = Σ_f  e_f · d_lj

  i.e. the features LarQL would list as writing the forget answers, summed over facts.

Both rank all N neurons; :mod:`gates.localise.benchmark` edits the top k of the budget over all layers.
"""

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.models.qwen3.modeling_qwen3 import Qwen3MLP

from lab.config.errors import UserError
from lab.data.formats import qa_prompt
from vindex.gate3 import attributions
from vindex.probe import run_with_hooks


def answer_tokens(tokenizer: PreTrainedTokenizerBase, facts: list[dict]) -> torch.Tensor:
    """t_f: the first token of " <answer>" for each fact."""
    ids = [tokenizer(" " + str(f["obj"]), add_special_tokens=False)["input_ids"] for f in facts]
    if not all(ids):
        raise UserError("a forget answer encodes to no token")
    return torch.tensor([i[0] for i in ids])


def _down_directions(model: nn.Module) -> list[torch.Tensor]:
    """[H, I] per layer: column j is d_lj."""
    return [m.down_proj.weight.detach().float() for m in model.modules() if isinstance(m, Qwen3MLP)]


def vindex_feature_scores(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, facts: list[dict]) -> torch.Tensor:
    """``vindex`` of the module docstring: [L, I], fp32 on the CPU."""
    e = model.get_input_embeddings().weight.detach().float()[answer_tokens(tokenizer, facts)].sum(dim=0)  # Σ_f e_f
    return torch.stack([e @ d for d in _down_directions(model)]).cpu()


def gate3_scores(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, facts: list[dict]) -> torch.Tensor:
    """``gate3`` of the module docstring: [L, I], fp32 on the CPU; vindex's Gate 3 attribution, one forward per fact."""
    total = torch.zeros(len(_down_directions(model)), model.config.intermediate_size)
    for fact, token in zip(facts, answer_tokens(tokenizer, facts).tolist(), strict=True):
        ids = tokenizer(qa_prompt(fact["question"]), return_tensors="pt", add_special_tokens=False)["input_ids"]
        total += attributions(model, run_with_hooks(model, ids), token)
    return total
