"""Mistyped input gets one clear line (exit code 2, no traceback) and damages nothing already written."""

from pathlib import Path

import pytest
from transformers import LlamaConfig

from ablations.train import train
from lab.config.errors import UserError
from tests.conftest import FAST, compose_train, run_cli


def llama_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "llama"
    LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4).save_pretrained(folder)
    return folder


CASES = {
    "missing_model_path": (["model.init=pretrained", "model.pretrained=/no/such/model"], "model path /no/such/model does not exist"),
    "non_qwen3_checkpoint": (["model.init=pretrained", "model.pretrained={llama}"], "is a 'llama' checkpoint, not Qwen3"),
    "missing_dataset": (["data=hf", "data.sources.text.path=parquet", "data.sources.text.data_files=/no/such/*.parquet"], "not found"),
    "wrong_text_column": (["data=hf", "data.sources.text.path=parquet", "data.sources.text.data_files={popqa}", "data.sources.text.text_column=body"],
                          "lacks column(s) ['body']"),
}


def _case(tmp_path: Path, case: str) -> tuple[list[str], str, Path]:
    overrides, expected = CASES[case]
    popqa = Path(__file__).resolve().parents[1] / "lab" / "config" / "assets" / "tiny_corpus" / "popqa" / "train.parquet"
    overrides = [o.format(llama=llama_folder(tmp_path), popqa=popqa) for o in overrides]
    run_dir = tmp_path / "existing_run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("keep me")
    return overrides, expected, run_dir


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_one_clear_message(tmp_path, case):
    overrides, expected, run_dir = _case(tmp_path, case)
    with pytest.raises(UserError) as info:
        train(compose_train([*overrides, *FAST, "logger=none"], output_root=run_dir))
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"] and (run_dir / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_unknown_variant_lists_the_valid_choices(tmp_path):
    """In a real subprocess (the table of ``test_bad_input_table.py`` runs the same entry points in-process)."""
    out = run_cli(["ablations.train", "variant=no_qk_nrom"], cwd=tmp_path, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Could not find 'variant/no_qk_nrom'" in out.stderr
    for name in ("no_qk_norm", "replace_dyt", "original", "no_all_norm"):
        assert name in out.stderr
    assert not (tmp_path / "runs").exists()
