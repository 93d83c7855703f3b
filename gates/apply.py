"""Write a gated copy of a gate run's base model as a loadable model folder.

    python -m gates.apply                                         # latest gate run, hard mask from neuron_indices.json
    python -m gates.apply gates_dir=runs/gates/<run> mode=hard threshold=0.478
    python -m gates.apply gates_dir=<seed folder> mode=soft base_model=Qwen/Qwen3-0.6B

The folder holds ``config.json`` + ``model.safetensors`` (``from_pretrained`` loads it; a non-original
variant loads with ``ablations.load``), the tokenizer, ``metadata.json`` and a ``README.md``. See
:mod:`gates.masking` for what hard and soft mean.
"""

from pathlib import Path

from omegaconf import DictConfig

from gates.files import read_lambda_logits, read_neuron_indices
from gates.masking import apply_gates, check_threshold, hard_mask, model_shape
from gates.runs import load_base_model, resolve_gates_dir
from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.report.cards import model_card
from lab.runs.artifacts import atomic_dir, write_json
from lab.runs.checksums import write_sha256sums
from lab.runs.git import git_commit


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
    model, tokenizer, meta = applied_model(gates_dir, str(cfg.mode), threshold, cfg.base_model)
    with atomic_dir(out, overwrite=bool(cfg.overwrite)) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        write_json(tmp / "metadata.json", {
            "stage": "gated", "base_model": meta["base_model"], "variant": meta["variant"], "variant_spec": meta["variant_spec"],
            "gates_dir": str(gates_dir), "mode": str(cfg.mode), "threshold": threshold, "git_commit": git_commit(),
        })
        (tmp / "README.md").write_text(model_card(
            f"# {meta['base_model']} with lambda gates applied ({cfg.mode}, threshold {threshold})\n\nGates: `{gates_dir}`. "
            "Load with `AutoModelForCausalLM.from_pretrained(folder)` (variant `original`) or `ablations.load(folder)`.\n",
            base_model=meta["base_model"], library_name="transformers", pipeline_tag="text-generation",
            tags=["qwen3", "lambda-gates"]))
        write_sha256sums(tmp)
    print(f"wrote {out}")
    return out


@hydra_command("gates_apply")
def main(cfg: DictConfig) -> None:
    write_applied(cfg)


if __name__ == "__main__":
    hydra_cli(main)
