"""Find a gate run and the base model its gates belong to."""

from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from gates.files import LOGITS_FILE
from lab.config.errors import UserError
from lab.model import build_model, load_tokenizer
from lab.model.variants import Variant
from lab.runs.artifacts import read_json


def latest_gate_run(runs: str | Path) -> Path:
    """The most recently written gate folder (holding ``lambda_logits.pt``) under ``<runs>/gates``."""
    found = sorted(Path(runs, "gates").glob(f"**/{LOGITS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UserError(f"no gate run under {Path(runs, 'gates')}; train one with `python -m gates.train` or pass gates_dir=...")
    return found[-1].parent


def resolve_gates_dir(gates_dir: str | None, runs: str | Path) -> Path:
    if not gates_dir:
        return latest_gate_run(runs)
    folder = Path(gates_dir).expanduser()
    if not folder.is_dir():
        raise UserError(f"gates_dir={gates_dir} is not a folder")
    if not (folder / LOGITS_FILE).is_file():
        raise UserError(f"gates_dir={gates_dir} has no {LOGITS_FILE}")
    return folder.resolve()


def load_base_model(gates_dir: Path, base_model: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, dict]:
    """The frozen model the gates were trained on (fp32, eval mode), its tokenizer, and the run's metadata.

    ``base_model`` (a hub id or local folder) overrides the one recorded in ``metadata.json``; gate files
    produced elsewhere (the seed's) carry no metadata, so they need it.
    """
    meta_file = Path(gates_dir) / "metadata.json"
    meta = read_json(meta_file) if meta_file.is_file() else {}
    source = base_model or meta.get("base_model")
    if not source or "random init" in str(source):
        raise UserError(f"{gates_dir} records no loadable base model; pass base_model=<hub id or folder> (e.g. Qwen/Qwen3-0.6B)")
    variant = Variant.from_config(meta["variant_spec"]) if meta.get("variant_spec") else Variant(name="original")
    model_cfg = {"pretrained": str(source), "init": "pretrained", "tokenizer": str(source)}
    tokenizer = load_tokenizer(model_cfg)
    model = build_model(model_cfg, variant, vocab_size=len(tokenizer))
    return model.eval(), tokenizer, {**meta, "base_model": str(source), "variant": variant.name, "variant_spec": variant.to_dict()}
