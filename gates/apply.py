"""Write a gated copy of a gate run's base model as a loadable model folder.

    python -m gates.apply                                         # latest gate run, hard mask from neuron_indices.json
    python -m gates.apply gates_dir=runs/gates/<run> mode=hard threshold=0.478
    python -m gates.apply gates_dir=<seed folder> mode=soft base_model=Qwen/Qwen3-0.6B

The gates are folded into the weights (:mod:`gates.masking`: hard zeroes rows of ``gate_proj`` and ``up_proj``,
soft scales columns of ``down_proj``), so the folder (:func:`lab.report.model_folder.write_model_folder`:
``config.json`` + ``model.safetensors``, the tokenizer, ``metadata.json``, a card) is a plain Qwen3 that stock
``from_pretrained`` and any Qwen3 engine run, with the gated model's logits (a non-original variant loads with
``ablations.load``).
"""

from pathlib import Path

from omegaconf import DictConfig

from gates.files import read_lambda_logits, read_neuron_indices
from gates.masking import apply_gates, check_threshold, hard_mask, model_shape
from gates.runs import load_base_model, resolve_gates_dir
from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.report.model_folder import write_model_folder
from lab.runs.artifacts import check_writable


def applied_model(gates_dir: Path, mode: str, threshold: float | None, base_model: str | None = None):
    """(model, tokenizer, metadata) with the gates applied; threshold None: the run's own default."""
    if threshold is not None:
        threshold = check_threshold(float(threshold), mode)
    else:
        check_threshold(1.0 if mode == "soft" else 0.5, mode)
    model, tokenizer, meta = load_base_model(gates_dir, base_model)
    shape = model_shape(model)
    logits = read_lambda_logits(gates_dir, shape)
    if mode == "hard" and threshold is None:
        hard_mask(model, read_neuron_indices(gates_dir, shape))
    else:
        apply_gates(model, logits, mode, 1.0 if threshold is None else threshold)
    return model, tokenizer, meta


def write_applied(cfg: DictConfig) -> Path:
    gates_dir = resolve_gates_dir(cfg.gates_dir, cfg.paths.runs)
    threshold = cfg.threshold
    label = f"{cfg.mode}-{'indices' if threshold is None and cfg.mode == 'hard' else threshold if threshold is not None else 1.0}"
    out = Path(cfg.out).expanduser() if cfg.out else gates_dir / "applied" / label
    if out.exists() and not cfg.overwrite:
        raise UserError(f"{out} exists; pass overwrite=true or another out=")
    check_writable(out.parent, "out=...")  # before the model loads
    model, tokenizer, meta = applied_model(gates_dir, cfg.mode, threshold, cfg.base_model)
    rule = ("the neurons of its neuron_indices.json zeroed (rows of gate_proj and up_proj)" if cfg.mode == "hard" and threshold is None
            else f"g = sigmoid(λ) < {threshold}: zeroed (rows of gate_proj and up_proj)" if cfg.mode == "hard"
            else f"every neuron with g = sigmoid(λ) < {1.0 if threshold is None else threshold} scaled by g (columns of down_proj)")
    write_model_folder(
        out, model, tokenizer,
        {"stage": "gated", "base_model": meta["base_model"], "variant": meta["variant"], "variant_spec": meta["variant_spec"],
         "gates_dir": str(gates_dir), "mode": cfg.mode, "threshold": threshold},
        title=f"{meta['base_model']} with lambda gates folded in ({cfg.mode}, threshold {threshold})",
        body=f"Gates: `{gates_dir}` ({cfg.mode}: {rule}). The gated model's logits, folded into its weights.",
        base_model=meta["base_model"], tags=["qwen3", "lambda-gates"], overwrite=cfg.overwrite, variant_spec=meta["variant_spec"])
    print(f"wrote {out}")
    return out


@hydra_command("gates_apply")
def main(cfg: DictConfig) -> None:
    write_applied(cfg)


if __name__ == "__main__":
    hydra_cli(main)
