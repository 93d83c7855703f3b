"""Measure what gate masking does to fact recall and to reasoning, against a random-neuron control.

    python -m gates.evaluate                                   # the latest gate run under runs/gates
    python -m gates.evaluate gates_dir=<run> data=popqa_numina base_model=Qwen/Qwen3-0.6B

For the unmasked model, and for every (mode, threshold) with mode ∈ {hard, soft} (see
:mod:`gates.masking`) and each selected threshold:

- ``knowledge_acc``: greedy answer to ``Q: <question> A:`` matches one of ``possible_answers``;
- ``reasoning_acc``: the greedy solution's last ``\\boxed{}`` equals the reference's (held-out problems);
- ``reasoning_loss``, ``kl_to_base``: see :mod:`gates.scoring`.

The control (``selection = random``) gives each layer's gate values to a random permutation of that
layer's neurons (one permutation per seed): the same number of neurons per layer is masked (hard), with
the same multipliers (soft), but not the neurons the gates chose. Writes ``evaluation.json``,
``evaluation.md`` and ``tradeoff.png`` into ``<gates_dir>/evaluation/``, and the table into the card.
"""

import statistics
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

import lab  # noqa: F401
from gates.card import gate_card
from gates.data import load_gate_rows
from gates.files import read_gate_stats, read_lambda_logits
from gates.gated_ffn import patch_gates, set_multipliers
from gates.masking import check_threshold, model_shape, multipliers
from gates.plots import tradeoff_plot
from gates.runs import load_base_model, resolve_gates_dir
from gates.scoring import reasoning_loss_and_kl
from gates.stats import select_thresholds
from lab.artifacts import atomic_write, read_json, write_json
from lab.checksums import SUMS_FILE, write_sha256sums
from lab.data.formats import reasoning_document
from lab.data.subset import graded_subset
from lab.errors import exit_on_user_error, hydra_cli
from lab.evaluation import knowledge_accuracy, reasoning_accuracy

METRICS = ("knowledge_acc", "reasoning_acc", "reasoning_loss", "kl_to_base")


def permuted_logits(logits: torch.Tensor, seed: int) -> torch.Tensor:
    """Each layer's λ assigned to a random permutation of its neurons (the random control)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([row[torch.randperm(row.numel(), generator=generator)] for row in logits])


def score(model, tokenizer, rows, cfg: DictConfig) -> dict:
    docs = [reasoning_document(r) for r in rows.reasoning_eval]
    loss, kl = reasoning_loss_and_kl(model, tokenizer, docs)
    tokens = cfg.max_new_tokens
    return {
        "knowledge_acc": knowledge_accuracy(model, tokenizer, rows.knowledge, int(tokens.knowledge)),
        "reasoning_acc": reasoning_accuracy(model, tokenizer, rows.reasoning_eval, int(tokens.reasoning)),
        "reasoning_loss": loss,
        "kl_to_base": kl,
    }


def evaluate_gates(cfg: DictConfig) -> dict:
    gates_dir = resolve_gates_dir(cfg.get("gates_dir"), cfg.paths.runs)
    model, tokenizer, meta = load_base_model(gates_dir, cfg.get("base_model"))
    logits = read_lambda_logits(gates_dir, model_shape(model))
    modes = [str(m) for m in cfg.modes]
    if cfg.get("thresholds"):
        thresholds = [float(t) for t in cfg.thresholds]
    elif (gates_dir / "gate_stats.json").is_file():
        thresholds = [p["threshold"] for p in read_gate_stats(gates_dir)["selected_thresholds"]]
    else:
        thresholds = [p["threshold"] for p in select_thresholds(torch.sigmoid(logits))]
    for mode in modes:
        for t in thresholds:
            check_threshold(t, mode)
    rows = load_gate_rows(cfg.data)
    rows.knowledge = graded_subset(rows.knowledge, cfg.data.get("eval_limit"))
    patch_gates(model)

    settings = [("none", "gates", 0.0, None)]
    settings += [(mode, "gates", t, None) for mode in modes for t in thresholds]
    settings += [(mode, "random", t, int(s)) for mode in modes for t in thresholds for s in cfg.random_seeds]
    results = []
    for mode, selection, threshold, seed in tqdm(settings, desc="gate settings", unit="setting"):
        if mode == "none":
            set_multipliers(model, torch.ones(model_shape(model)))
        else:
            source = logits if seed is None else permuted_logits(logits, seed)
            set_multipliers(model, multipliers(source, mode, threshold))
        masked = 0.0 if mode == "none" else float((torch.sigmoid(logits) < threshold).float().mean())
        results.append({"mode": mode, "selection": selection, "threshold": threshold, "seed": seed,
                        "fraction_masked": masked, **score(model, tokenizer, rows, cfg)})

    summary = summarize(results)
    out = Path(cfg.out).expanduser() if cfg.get("out") else gates_dir / "evaluation"
    report = {"gates_dir": str(gates_dir), "base_model": meta["base_model"], "variant": meta["variant"],
              "num_knowledge": len(rows.knowledge), "num_reasoning": len(rows.reasoning_eval),
              "thresholds": thresholds, "random_seeds": list(cfg.random_seeds), "settings": results, "summary": summary}
    write_json(out / "evaluation.json", report)
    table = markdown_table(summary)
    atomic_write(out / "evaluation.md", lambda tmp: tmp.write_text(f"# Gate evaluation: {gates_dir}\n\n{table}\n"))
    tradeoff_plot(summary, out / "tradeoff.png")
    _update_card(gates_dir, table)
    print(table)
    return report


def summarize(results: list[dict]) -> list[dict]:
    """One row per (mode, selection, threshold); random rows average the seeds (``*_std`` beside)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["mode"], r["selection"], r["threshold"]), []).append(r)
    rows = []
    for (mode, selection, threshold), items in groups.items():
        row = {"mode": mode, "selection": selection, "threshold": threshold, "fraction_masked": items[0]["fraction_masked"],
               "n": len(items)}
        for key in METRICS:
            values = [i[key] for i in items]
            row[key] = statistics.fmean(values)
            if len(values) > 1:
                row[f"{key}_std"] = statistics.stdev(values)
        rows.append(row)
    return rows


def markdown_table(summary: list[dict]) -> str:
    head = "| mode | neurons | threshold | masked | knowledge acc | reasoning acc | reasoning loss | KL to base |\n|---|---|---|---|---|---|---|---|"

    def cell(row: dict, key: str, fmt: str) -> str:
        value = format(row[key], fmt)
        return f"{value} ± {format(row[key + '_std'], fmt)}" if f"{key}_std" in row else value

    lines = [f"| {r['mode']} | {r['selection'] if r['mode'] != 'none' else '-'} | {r['threshold']:.3f} | {r['fraction_masked']:.1%} | "
             f"{cell(r, 'knowledge_acc', '.1%')} | {cell(r, 'reasoning_acc', '.1%')} | {cell(r, 'reasoning_loss', '.3f')} | "
             f"{cell(r, 'kl_to_base', '.3f')} |" for r in summary]
    return "\n".join([head, *lines])


def _update_card(gates_dir: Path, table: str) -> None:
    if (gates_dir / "gate_stats.json").is_file() and (gates_dir / "metadata.json").is_file():
        card = gate_card(read_gate_stats(gates_dir), read_json(gates_dir / "metadata.json"), evaluation_table=table)
        atomic_write(gates_dir / "README.md", lambda tmp: tmp.write_text(card))
        if (gates_dir / SUMS_FILE).is_file():
            write_sha256sums(gates_dir)


@hydra.main(version_base="1.3", config_path="../conf", config_name="gates_evaluate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    evaluate_gates(cfg)


if __name__ == "__main__":
    hydra_cli(main)
