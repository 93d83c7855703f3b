"""Measure what gate masking does to fact recall and to reasoning, against a random-neuron control.

    python -m gates.evaluate                                   # the latest gate run under runs/gates
    python -m gates.evaluate gates_dir=<run> data=popqa_numina base_model=Qwen/Qwen3-0.6B

For the unmasked model, and for every (mode, threshold) with mode ∈ {hard, soft} (see
:mod:`gates.masking`) and each selected threshold:

- ``knowledge_acc``: greedy answer to ``Q: <question> A:`` matches one of ``possible_answers``, over every fact;
  ``forget_recall``, ``held_out_recall``, ``other_recall`` (and ``recall/<relation>``) the same over the facts the
  gates trained to forget, the same relations' held-out facts, and the other relations (:mod:`gates.facts`);
- ``reasoning_acc``: the greedy solution's last ``\\boxed{}`` equals the reference's (held-out problems);
- ``reasoning_loss``, ``kl_to_base``: see :mod:`gates.scoring`;
- with ``tasks=[...]``, every lm-evaluation-harness task's metrics on the same masked model, as
  ``<task>/<metric>`` (e.g. ``popqa/exact_match``, ``gsm8k/exact_match (strict-match)``). ``tradeoff.knowledge``
  and ``tradeoff.reasoning`` choose the trade-off plot's axes among all of these; at real scale, PopQA and GSM8K.

The control (``selection = random``) gives each layer's gate values to a random permutation of that
layer's neurons (one permutation per seed): the same number of neurons per layer is masked (hard), with
the same multipliers (soft), but not the neurons the gates chose. Writes ``evaluation.json``,
``evaluation.md`` and ``tradeoff.png`` into ``<gates_dir>/evaluation/``, and the table into the card.
"""

import statistics
from pathlib import Path

import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from gates.card import gate_card
from gates.data import load_gate_rows
from gates.facts import FactSplit, read_split, recall_by_set
from gates.files import read_gate_stats, read_lambda_logits
from gates.gated_ffn import patch_gates, set_multipliers
from gates.masking import check_threshold, model_shape, multipliers
from gates.plots import tradeoff_plot
from gates.runs import load_base_model, resolve_gates_dir
from gates.scoring import reasoning_loss_and_kl
from gates.stats import select_thresholds
from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.data.formats import reasoning_document
from lab.data.subset import graded_subset
from lab.evaluate.graded import knowledge_correct, reasoning_accuracy
from lab.evaluate.lm_eval.harness import checked_task_manager, run_tasks, scores
from lab.report.intervals import stat
from lab.runs.artifacts import atomic_write, check_writable, read_json, write_json
from lab.runs.checksums import SUMS_FILE, write_sha256sums

METRICS = ("knowledge_acc", "forget_recall", "held_out_recall", "other_recall", "reasoning_acc", "reasoning_loss", "kl_to_base")
SETTING_KEYS = ("mode", "selection", "threshold", "seed", "fraction_masked")


def permuted_logits(logits: torch.Tensor, seed: int) -> torch.Tensor:
    """Each layer's λ assigned to a random permutation of its neurons (the random control)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([row[torch.randperm(row.numel(), generator=generator)] for row in logits])


def score(model, tokenizer, rows, cfg: DictConfig, manager=None, split: FactSplit | None = None) -> dict:
    """Our metrics of the model as it is masked now (recall on every fact, and per set of ``split`` and relation:
    :func:`gates.facts.recall_by_set`), plus ``<task>/<metric>`` of every lm-eval task of ``cfg.tasks``."""
    docs = [reasoning_document(r) for r in rows.reasoning_eval]
    loss, kl = reasoning_loss_and_kl(model, tokenizer, docs)
    tokens = cfg.max_new_tokens
    correct = knowledge_correct(model, tokenizer, rows.knowledge, int(tokens.knowledge))
    result = {
        "knowledge_acc": sum(correct) / len(correct) if correct else float("nan"),
        **(recall_by_set(rows.knowledge, correct, split) if split is not None else {}),
        "reasoning_acc": reasoning_accuracy(model, tokenizer, rows.reasoning_eval, int(tokens.reasoning)),
        "reasoning_loss": loss,
        "kl_to_base": kl,
    }
    if manager is not None:
        options = cfg.lm_eval
        results = run_tasks(model, tokenizer, list(cfg.tasks), batch_size=options.batch_size, device=str(model.device),
                            limit=options.limit, num_fewshot=options.num_fewshot, manager=manager, checked=True)
        result |= {f"{task}/{metric}": value for task, metrics in scores(results).items() for metric, value in metrics.items()}
        model.eval()
    return result


def check_tradeoff_axes(cfg: DictConfig, scored: dict) -> tuple[str, str]:
    """``(knowledge key, reasoning key)`` of the trade-off plot, each one a metric the evaluation produced."""
    axes = (str(cfg.tradeoff.knowledge), str(cfg.tradeoff.reasoning))
    missing = [key for key in axes if key not in scored]
    if missing:
        metrics = [k for k in scored if k not in SETTING_KEYS]
        raise UserError(f"tradeoff axes {missing} are not metrics of this evaluation; choose among {metrics}")
    return axes


def evaluate_gates(cfg: DictConfig) -> dict:
    gates_dir = resolve_gates_dir(cfg.gates_dir, cfg.paths.runs)
    out = check_writable(Path(cfg.out).expanduser() if cfg.out else gates_dir / "evaluation", "out=...")
    check_writable(gates_dir, "gates_dir=...: the gate run's card gets the evaluation table")
    model, tokenizer, meta = load_base_model(gates_dir, cfg.base_model)
    logits = read_lambda_logits(gates_dir, model_shape(model))
    modes = [str(m) for m in cfg.modes]
    if cfg.thresholds:
        thresholds = list(cfg.thresholds)
    elif (gates_dir / "gate_stats.json").is_file():
        thresholds = [p["threshold"] for p in read_gate_stats(gates_dir)["selected_thresholds"]]
    else:
        thresholds = [p["threshold"] for p in select_thresholds(torch.sigmoid(logits))]
    for mode in modes:
        for t in thresholds:
            check_threshold(t, mode)
    rows = load_gate_rows(cfg.data)
    rows.knowledge = graded_subset(rows.knowledge, cfg.data.get("eval_limit"))
    split = read_split(gates_dir, rows.knowledge)
    manager = checked_task_manager(list(cfg.tasks)) if cfg.tasks else None
    patch_gates(model)

    settings = [("none", "gates", 0.0, None)]
    settings += [(mode, "gates", t, None) for mode in modes for t in thresholds]
    settings += [(mode, "random", t, s) for mode in modes for t in thresholds for s in cfg.random_seeds]
    results = []
    for mode, selection, threshold, seed in tqdm(settings, desc="gate settings", unit="setting"):
        if mode == "none":
            set_multipliers(model, torch.ones(model_shape(model)))
        else:
            source = logits if seed is None else permuted_logits(logits, seed)
            set_multipliers(model, multipliers(source, mode, threshold))
        masked = 0.0 if mode == "none" else float((torch.sigmoid(logits) < threshold).float().mean())
        results.append({"mode": mode, "selection": selection, "threshold": threshold, "seed": seed,
                        "fraction_masked": masked, **score(model, tokenizer, rows, cfg, manager, split)})
        if len(results) == 1:
            axes = check_tradeoff_axes(cfg, results[0])

    summary = summarize(results)
    report = {"gates_dir": str(gates_dir), "base_model": meta["base_model"], "variant": meta["variant"],
              "num_knowledge": len(rows.knowledge), "num_reasoning": len(rows.reasoning_eval),
              "facts": {"relations": split.relations, "held_out_fraction": split.held_out_fraction,
                        **{f"num_{name}": len(facts) for name, facts in split.sets().items()}},
              "thresholds": thresholds, "random_seeds": list(cfg.random_seeds), "tasks": list(cfg.tasks),
              "tradeoff": {"knowledge": axes[0], "reasoning": axes[1]}, "settings": results, "summary": summary}
    write_json(out / "evaluation.json", report)
    table = markdown_table(summary)
    atomic_write(out / "evaluation.md", lambda tmp: tmp.write_text(f"# Gate evaluation: {gates_dir}\n\n{table}\n"))
    tradeoff_plot(summary, out / "tradeoff.png", *axes)
    _update_card(gates_dir, table)
    print(table)
    return report


def metric_keys(results: list[dict]) -> list[str]:
    """Our metrics, then the lm-eval ``<task>/<metric>`` keys, in the order the results have them."""
    return [*METRICS, *(k for k in results[0] if k not in METRICS and k not in SETTING_KEYS)] if results else list(METRICS)


def summarize(results: list[dict]) -> list[dict]:
    """One row per (mode, selection, threshold); random rows average the draws, with ``*_std`` and ``*_ci`` (the
    95 % Student-t interval of the mean over the draws, :func:`lab.report.intervals.stat`) beside."""
    keys = metric_keys(results)
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["mode"], r["selection"], r["threshold"]), []).append(r)
    rows = []
    for (mode, selection, threshold), items in groups.items():
        row = {"mode": mode, "selection": selection, "threshold": threshold, "fraction_masked": items[0]["fraction_masked"],
               "n": len(items)}
        for key in keys:
            values = [i[key] for i in items]
            row[key] = statistics.fmean(values)
            if len(values) > 1:
                row[f"{key}_std"] = statistics.stdev(values)
                row[f"{key}_ci"] = stat(values)["ci"]
        rows.append(row)
    return rows


def markdown_table(summary: list[dict]) -> str:
    """One line per summary row: our metrics, then one column per lm-eval ``<task>/<metric>``."""
    extra = [k for k in metric_keys(summary) if k not in METRICS and not k.endswith(("_std", "_ci")) and k != "n"
             and not k.startswith("recall/")]
    titles = ["knowledge acc", "forget recall", "held-out recall", "other relations", "reasoning acc", "reasoning loss", "KL to base", *extra]
    head = "| mode | neurons | threshold | masked | " + " | ".join(titles) + " |\n|" + "---|" * (4 + len(titles))

    def cell(row: dict, key: str, fmt: str) -> str:
        value = format(row[key], fmt)
        interval = row.get(f"{key}_ci")
        return f"{value} [{format(interval[0], fmt)}, {format(interval[1], fmt)}]" if interval else value

    formats = {"knowledge_acc": ".1%", "forget_recall": ".1%", "held_out_recall": ".1%", "other_recall": ".1%",
               "reasoning_acc": ".1%", "reasoning_loss": ".3f", "kl_to_base": ".3f"}
    lines = [f"| {r['mode']} | {r['selection'] if r['mode'] != 'none' else '-'} | {r['threshold']:.3f} | {r['fraction_masked']:.1%} | "
             + " | ".join(cell(r, key, formats.get(key, ".3f")) for key in [*METRICS, *extra]) + " |" for r in summary]
    return "\n".join([head, *lines])


def _update_card(gates_dir: Path, table: str) -> None:
    if (gates_dir / "gate_stats.json").is_file() and (gates_dir / "metadata.json").is_file():
        card = gate_card(read_gate_stats(gates_dir), read_json(gates_dir / "metadata.json"), evaluation_table=table)
        atomic_write(gates_dir / "README.md", lambda tmp: tmp.write_text(card))
        if (gates_dir / SUMS_FILE).is_file():
            write_sha256sums(gates_dir)


@hydra_command("gates_evaluate")
def main(cfg: DictConfig) -> None:
    evaluate_gates(cfg)


if __name__ == "__main__":
    hydra_cli(main)
