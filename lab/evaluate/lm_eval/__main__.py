"""``python -m lab.evaluate.lm_eval <folder | hub id> [tasks=[...]] [limit=...] [mode=... threshold=...]`` (``make lm-eval``).

Evaluates with lm-evaluation-harness every model the source holds (:mod:`lab.evaluate.lm_eval.targets`), writes each
one's results where :mod:`lab.evaluate.lm_eval.results` says, prints a table, and for a sweep writes
``<sweep>/lm_eval/comparison.md``. Options: ``conf/lm_eval.yaml``.
"""

import sys
from pathlib import Path

from omegaconf import DictConfig

from lab.config.command import hydra_cli, hydra_command
from lab.evaluate.lm_eval.harness import checked_task_manager, run_tasks, scores
from lab.evaluate.lm_eval.results import (
    comparison,
    update_card,
    update_wandb,
    write_comparison,
    write_results,
)
from lab.evaluate.lm_eval.targets import Target, place, targets
from lab.runs.artifacts import check_writable
from lab.runs.processes import hydra_quoted


def evaluate_source(cfg: DictConfig) -> dict[str, dict[str, dict[str, float]]]:
    """Every target of ``cfg.folder`` evaluated on ``cfg.tasks``; returns ``{name: {task: {metric: value}}}``."""
    found, sweep = targets(str(cfg.folder), cfg)
    manager = checked_task_manager(list(cfg.tasks))  # before any model loads: a bad task costs no model load
    folders = {target.name: output_folder(target, cfg) for target in found}
    for folder in dict.fromkeys([*folders.values(), *([sweep] if sweep is not None else [])]):  # in order
        check_writable(folder, "out=... (a hub model's results), or a copy of the run folder you can write")  # before any evaluation
    table = {}
    for target in found:
        model, tokenizer = target.load()
        model, device = place(model, str(cfg.device), str(cfg.dtype))
        results = run_tasks(model, tokenizer, list(cfg.tasks), batch_size=cfg.batch_size, device=device, limit=cfg.limit,
                            num_fewshot=cfg.num_fewshot, manager=manager, checked=True)
        folder = folders[target.name]
        path = write_results(folder, results, target.setting)
        update_card(folder, results, target.name, target.setting)
        if cfg.wandb:
            update_wandb(folder, results, target.setting)
        table[target.name] = scores(results)
        print(f"{target.name}: {path}", flush=True)
        del model
    print(comparison(table), flush=True)
    if sweep is not None:
        print(f"wrote {write_comparison(sweep, table)}", flush=True)
    return table


def output_folder(target: Target, cfg: DictConfig) -> Path:
    """Where a target's results go: its own folder (a run), else ``out``, else ``<paths.runs>/lm_eval/<hub id>``."""
    return target.folder or Path(str(cfg.out or Path(str(cfg.paths.runs), "lm_eval", target.name.replace("/", "--"))))


@hydra_command("lm_eval")
def main(cfg: DictConfig) -> None:
    evaluate_source(cfg)


def positional_folder(argv: list[str]) -> list[str]:
    """``python -m lab.evaluate.lm_eval <folder> ...``: a first argument without ``=`` is the ``folder=`` override (quoted, as
    sweep folders hold ``=`` and ``,``)."""
    if len(argv) > 1 and "=" not in argv[1] and not argv[1].startswith("-"):
        return [argv[0], f"folder={hydra_quoted(argv[1])}", *argv[2:]]
    return argv


if __name__ == "__main__":
    sys.argv = positional_folder(sys.argv)
    hydra_cli(main)
