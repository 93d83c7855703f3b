"""The localisation benchmark's edited models as plain Qwen3 folders (``save_edits: true``).

Every method's edit at ``budget`` lives in the weights the benchmark grades: a zeroed or scaled neuron j is column j
of ``down_proj`` times its multiplier (:func:`gates.masking.scale_neurons`, W_down · diag(m)), the rank-1 DELETE is
``gate_proj`` rows moved by a vᵀ (:func:`gates.localise.delete.delete_facts`). Written with
:func:`lab.report.model_folder.write_model_folder` right after the edit (before its relearning attacks), each folder
loads with stock ``AutoModelForCausalLM.from_pretrained`` and no remote code (a non-``original`` variant ships its
code), so the edited model can be evaluated or served anywhere. One folder per method and mode, the random
control's first draw only: ``<out>/seed<s>/edited/<method>_<mode>``.
"""

from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lab.report.model_folder import write_model_folder

EDITED_DIR = "edited"
RULES = {"hard": "its chosen FFN neurons zeroed (columns of down_proj)", "soft": "its chosen FFN neurons scaled by their gate "
         "values (columns of down_proj)", "rank1": "Gate 3's rank-1 DELETE of each forget fact (rows of gate_proj)"}


def edited_dir(seed_folder: Path, method: str, mode: str) -> Path:
    """Where one method's edited model of a seed goes."""
    return Path(seed_folder) / EDITED_DIR / f"{method}_{mode}"


def save_edited_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, meta: dict, seed_folder: Path, seed: int,
                      method: str, mode: str, budget: float, fraction_edited: float, draw: int | None = None) -> Path:
    """Write ``model``, its edit in its weights, to :func:`edited_dir` (replacing a copy from an earlier try of the
    seed); ``draw``: the random control's draw (its first), None for a method without draws."""
    out = edited_dir(seed_folder, method, mode)
    return write_model_folder(
        out, model, tokenizer,
        {"stage": "localised", "base_model": meta["base_model"], "variant": meta["variant"], "variant_spec": meta["variant_spec"],
         "seed": seed, "method": method, "mode": mode, "draw": draw, "budget": budget, "fraction_edited": fraction_edited},
        title=f"{meta['base_model']} edited by {method} ({mode}) at {budget:g} of its FFN neurons",
        body=(f"The localisation benchmark's `{method}` edit of seed {seed} ({RULES[mode]}), {fraction_edited:.2%} of the FFN "
              "neurons, folded into the weights the benchmark graded (before any relearning attack)."),
        base_model=meta["base_model"], tags=["qwen3", "localisation", method], overwrite=True, variant_spec=meta["variant_spec"])
