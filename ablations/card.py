"""The model card (``README.md`` with Hugging Face front matter) of an ablation stage folder."""

import json

from lab.model.variants import Variant
from lab.report.cards import model_card
from lab.runs.artifacts import weight_settings


def ablation_card(meta: dict) -> str:
    """Markdown card: what the variant changes, the stage, how to load it, and (finetuned) the run's result."""
    variant, stage = meta["variant"], meta["stage"]
    result = meta.get("result") or {}
    lines = [
        f"# Qwen3 norm ablation `{variant}` ({stage})",
        "",
        Variant.from_config(meta["variant_spec"]).describe(),
        "",
        "| | |", "|---|---|",
        f"| base model | {meta.get('base_model')} |",
        f"| stage | {'before training' if stage == 'base' else 'after training'} |",
        f"| parameters | {meta.get('num_params', 0):,} |",
        f"| norms | `{json.dumps(meta.get('norm_counts', {}))}` |",
        f"| seed | {meta.get('seed')} |",
        f"| git commit | `{meta.get('git_commit')}` |",
    ]
    if result:
        lines += [f"| status | {result.get('status')} |", f"| steps | {result.get('steps')} |",
                  f"| final train loss | {result.get('final_train_loss')} |", f"| final val loss | {result.get('final_val_loss')} |",
                  f"| fact recall | {result.get('knowledge_acc')} |", f"| held-out arithmetic | {result.get('reasoning_acc')} |"]
    lines += ["", "## Load", "", "```python", "import ablations", "model = ablations.load(\"<this folder>\")  # rebuilds the variant, strict load",
              "```", "", f"{_weights_line(meta)} `metadata.json` holds the full config.", ""]
    return model_card("\n".join(lines), base_model=meta.get("base_model"), library_name="transformers",
                      pipeline_tag="text-generation", tags=["qwen3", "normalization-ablation", variant])


def _weights_line(meta: dict) -> str:
    """Which weight files the stage has (``artifacts.formats``) and their dtype."""
    formats, dtype = weight_settings(meta.get("config"))
    files = [f"`model.{f}`" for f in formats]
    return (" and ".join(files) + (" hold the same state dict" if len(files) > 1 else " holds the state dict") + f" ({dtype}).")
