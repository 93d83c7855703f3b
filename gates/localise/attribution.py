"""The attribution baseline: knowledge neurons ranked by activation × gradient (Dai et al. 2022, the cheap form).

For FFN neuron j of layer l with hidden activation h_j^l (the input of ``down_proj``: act(W_gate x) ⊙ W_up x) at
position t of fact f's training text, and log p_f the log-probability of the fact's answer tokens given what
precedes them (teacher-forced, the Q/A line ``Q: <question> A: <answer>.``)::

    a_j^l = Σ_f Σ_t  h_{j,t}^l · ∂ log p_f / ∂ h_{j,t}^l

the first-order estimate of how much log p_f falls when the neuron is silenced, summed over the forget facts. The
neurons with the largest a are the method's knowledge neurons; a budget of k neurons masks the top k over all
layers (:mod:`gates.localise.benchmark`). No training: one forward and one backward pass per batch of facts.
"""

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase
from transformers.models.qwen3.modeling_qwen3 import Qwen3MLP

from gates.data import entity_masked, pad_collate
from lab.config.errors import UserError
from lab.data.formats import knowledge_documents


def neuron_attributions(model: nn.Module, tokenizer: PreTrainedTokenizerBase, facts: list[dict], max_len: int,
                        batch_size: int = 32) -> torch.Tensor:
    """``a`` of the module docstring for every FFN neuron: [num_layers, intermediate_size], fp32 on the CPU."""
    examples = [e for e in (entity_masked(knowledge_documents(f)[0], str(f["obj"]), tokenizer, max_len) for f in facts) if e]
    if not examples:
        raise UserError("no fact's answer fits in data.seq_len tokens: nothing to attribute")
    mlps = [m for m in model.modules() if isinstance(m, Qwen3MLP)]
    hidden: list[torch.Tensor] = []

    def keep(module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        h = args[0]
        if not h.requires_grad:  # frozen weights: no graph reaches h yet, so it starts one (nothing upstream is cut)
            h = h.detach().requires_grad_(True)
        hidden.append(h)  # ∂ log p / ∂ h counts every path from h to the output, through the later layers too
        return (h,)

    handles = [m.down_proj.register_forward_pre_hook(keep) for m in mlps]
    total = torch.zeros(len(mlps), mlps[0].intermediate_size, dtype=torch.float32)
    collate, was_training = pad_collate(tokenizer.pad_token_id), model.training
    model.eval()
    try:
        for start in range(0, len(examples), batch_size):
            batch = collate(examples[start : start + batch_size])
            hidden.clear()
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
            labels = batch["labels"][:, 1:]
            picked = labels != -100
            logp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            grads = torch.autograd.grad((logp * picked).sum(), hidden)
            for layer, (h, g) in enumerate(zip(hidden, grads, strict=True)):
                real = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
                total[layer] += (h.detach() * g * real).sum(dim=(0, 1)).float().cpu()
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total
