"""Where lm-eval results go: ``<folder>/lm_eval[/<setting>]/results.json`` (lm-eval's own format), the folder's
model card (a ``model-index`` entry per task and metric, the Hugging Face convention for evaluation results,
which ``huggingface_hub.ModelCard`` parses; ``SHA256SUMS`` refreshed), the W&B run the folder came from
(``.wandb_run_id``: its summary gains ``lm_eval/<task>/<metric>``), and for a sweep one comparison table.
"""

import json
import os
from pathlib import Path
from typing import Any

from lab.config import WANDB_PROJECT
from lab.evaluate.lm_eval.harness import scores
from lab.runs.artifacts import atomic_write, read_json, write_json
from lab.runs.checksums import SUMS_FILE, write_sha256sums
from lab.runs.resume import WANDB_ID_FILE

RESULTS_DIR = "lm_eval"
SOURCE = "lm-evaluation-harness"
SOURCE_URL = "https://github.com/EleutherAI/lm-evaluation-harness"


def results_dir(folder: Path, setting: str | None = None) -> Path:
    return Path(folder) / RESULTS_DIR / (setting or "")


def write_results(folder: Path, results: dict[str, Any], setting: str | None = None) -> Path:
    """lm-eval's result dict (samples left out), as ``lm_eval --output_path`` writes it."""
    from lm_eval.utils import handle_non_serializable

    kept = {k: v for k, v in results.items() if k != "samples"}
    path = results_dir(folder, setting) / "results.json"
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(kept, indent=2, default=handle_non_serializable) + "\n"))
    return path


def update_card(folder: Path, results: dict[str, Any], model_name: str, setting: str | None = None) -> bool:
    """Put the scores in the front matter of ``folder/README.md`` as ``model-index`` results (replacing earlier
    ones of the same task, metric and setting); returns False when the folder has no card."""
    from huggingface_hub import EvalResult, ModelCard

    card_path = Path(folder) / "README.md"
    if not card_path.is_file():
        return False
    card = ModelCard.load(card_path)
    new = [EvalResult(task_type="text-generation", dataset_type=task, dataset_name=task, metric_type=metric, metric_value=value,
                      metric_name=f"{metric} ({setting})" if setting else metric, source_name=SOURCE,
                      source_url=SOURCE_URL)
           for task, metrics in scores(results).items() for metric, value in metrics.items()]
    keys = {(r.dataset_type, r.metric_name) for r in new}
    kept = [r for r in (card.data.eval_results or []) if (r.dataset_type, r.metric_name) not in keys]
    card.data.eval_results = kept + new
    card.data.model_name = card.data.model_name or model_name
    atomic_write(card_path, lambda tmp: tmp.write_text(str(card)))
    if (Path(folder) / SUMS_FILE).is_file():
        write_sha256sums(folder)
    return True


def update_wandb(folder: Path, results: dict[str, Any], setting: str | None = None) -> bool:
    """Add the scores to the summary of the W&B run ``folder`` came from (offline unless ``WANDB_MODE`` says
    otherwise: ``wandb sync`` merges it into that run); returns False when the folder records no run."""
    id_file = Path(folder) / WANDB_ID_FILE
    if not id_file.is_file():
        return False
    import wandb

    prefix = f"lm_eval/{setting}/" if setting else "lm_eval/"
    run = wandb.init(project=run_project(folder), id=id_file.read_text().strip(), resume="allow", dir=str(results_dir(folder)),
                     mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new")
    run.summary.update({f"{prefix}{task}/{metric}": value for task, metrics in scores(results).items() for metric, value in metrics.items()})
    run.finish()
    return True


def run_project(folder: Path) -> str:
    """The W&B project the folder's run logged to: ``logger.project`` of the config in its ``metadata.json``."""
    meta = Path(folder) / "metadata.json"
    config = (read_json(meta).get("config") or {}) if meta.is_file() else {}
    return (config.get("logger") or {}).get("project") or WANDB_PROJECT


def comparison(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    """A markdown table: one row per run, one column per task and metric."""
    columns = sorted({(task, metric) for table in rows.values() for task, metrics in table.items() for metric in metrics})
    lines = ["| run | " + " | ".join(f"{task} {metric}" for task, metric in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, table in rows.items():
        cells = [table.get(task, {}).get(metric) for task, metric in columns]
        lines.append(f"| {name} | " + " | ".join("–" if v is None else f"{v:.4f}" for v in cells) + " |")
    return "\n".join(lines)


def write_comparison(sweep: Path, rows: dict[str, dict[str, dict[str, float]]]) -> Path:
    """``<sweep>/lm_eval/comparison.{json,md}``; returns the markdown's path."""
    write_json(results_dir(sweep) / "comparison.json", rows)
    path = results_dir(sweep) / "comparison.md"
    atomic_write(path, lambda tmp: tmp.write_text(comparison(rows) + "\n"))
    return path
