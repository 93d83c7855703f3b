"""A linear probe for the forgotten attribute: is a forget fact's answer still linearly readable from the residual
stream of the edited model, though the model no longer says it?

For fact f, x_f^l ∈ R^H is the residual stream after layer l (``hidden_states[l]``: 0 is the embeddings, L is after
the final norm, as transformers returns them) at the last position of the graded prompt ``Q: <question> A:``, and y_f = u_t / ‖u_t‖ the unit unembedding row of the
answer's first token t_f (:func:`gates.localise.logit_attribution.answer_tokens`). Per layer, a ridge map is fitted on the
held-out facts (never on the forget facts)::

    W_l = (X̄ᵀX̄ + α · tr(X̄ᵀX̄)/H · I)⁻¹ X̄ᵀY        X̄ = X − μ (the held-out facts' mean), α = ``ridge``

and read on the forget facts: the predicted token is argmax_{c ∈ C} cos((x_f − μ) W_l, u_c) over the candidates C,
the distinct first answer tokens of the forget and held-out facts. The probe's accuracy is the share of forget
facts whose predicted token is t_f (chance ≈ 1/|C|). High accuracy where recall is gone means the answer is still
in the representation (the probe chooses among |C| answers, recall is open generation: not like for like).
"""

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from gates.localise.logit_attribution import answer_tokens
from lab.data.formats import qa_prompt


@torch.no_grad()
def last_position_residuals(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, facts: list[dict]) -> torch.Tensor:
    """x_f^l for every fact and layer: [L + 1, F, H], fp32 on the CPU."""
    was_training = model.training
    model.eval()
    rows = []
    for fact in facts:
        ids = tokenizer(qa_prompt(fact["question"]), return_tensors="pt", add_special_tokens=False)["input_ids"]
        hidden = model(input_ids=ids.to(model.device), output_hidden_states=True).hidden_states
        rows.append(torch.stack([h[0, -1].float().cpu() for h in hidden]))
    model.train(was_training)
    return torch.stack(rows, dim=1)


def fit_ridge(x: torch.Tensor, y: torch.Tensor, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W, μ)`` of the module docstring for one layer: x [F, H], y [F, D]."""
    mean = x.mean(dim=0)
    centred = (x - mean).double()
    gram = centred.T @ centred
    gram += ridge * gram.trace().clamp(min=1e-12) / gram.shape[0] * torch.eye(gram.shape[0], dtype=gram.dtype)
    return torch.linalg.solve(gram, centred.T @ y.double()).float(), mean


def decode_accuracy(x_train: torch.Tensor, x_test: torch.Tensor, train_tokens: torch.Tensor, test_tokens: torch.Tensor,
                    unembed: torch.Tensor, ridge: float) -> list[float]:
    """Per layer of x [L + 1, F, H]: the share of test facts whose probe-predicted token (module docstring) is theirs."""
    candidates = torch.unique(torch.cat([train_tokens, test_tokens]))
    directions = torch.nn.functional.normalize(unembed[candidates], dim=-1)  # [|C|, H]
    targets = torch.nn.functional.normalize(unembed[train_tokens], dim=-1)
    accuracy = []
    for layer in range(x_train.shape[0]):
        weight, mean = fit_ridge(x_train[layer], targets, ridge)
        scores = torch.nn.functional.normalize((x_test[layer] - mean) @ weight, dim=-1) @ directions.T
        accuracy.append(float((candidates[scores.argmax(dim=-1)] == test_tokens).float().mean()))
    return accuracy


def probe_accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, train: list[dict], test: list[dict],
                   ridge: float = 1.0) -> list[float]:
    """The probe's accuracy on ``test`` (the forget facts) per layer 0..L, fitted on ``train`` (the held-out facts)."""
    return decode_accuracy(last_position_residuals(model, tokenizer, train), last_position_residuals(model, tokenizer, test),
                           answer_tokens(tokenizer, train), answer_tokens(tokenizer, test),
                           model.get_output_embeddings().weight.detach().float().cpu(), ridge)
