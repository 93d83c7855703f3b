"""Wrong gate files, thresholds and data: one clear line each, exit code 2, nothing written half."""

import json
import shutil

import pytest
import torch
from omegaconf import OmegaConf

from gates.data import load_gate_rows
from gates.files import read_lambda_logits, read_neuron_indices, write_gate_files
from gates.masking import check_threshold
from lab.config import asset_path
from lab.config.errors import UserError
from lab.data.config import DataConfig
from lab.runs.reference import tiny_reference_dir
from tests.conftest import run_here


@pytest.fixture
def gate_files(tmp_path):
    write_gate_files(tmp_path, torch.randn(4, 384))
    return tmp_path


@pytest.mark.parametrize("shape,message", [((3, 384), "has 3 layers x 384 neurons, but the model has 4 layers x 384"),
                                           ((4, 100), "has 4 layers x 100 neurons, but the model has 4 layers x 384")])
def test_lambda_logits_of_another_model_are_refused(tmp_path, shape, message):
    write_gate_files(tmp_path, torch.randn(*shape))
    with pytest.raises(UserError, match=message):
        read_lambda_logits(tmp_path, (4, 384))


@pytest.mark.parametrize("content", [b"not a checkpoint", None, {"model.layers.0.mlp.lambda_logits": torch.zeros(3),
                                                                  "model.layers.2.mlp.lambda_logits": torch.zeros(3)}])
def test_a_broken_lambda_file_is_named(tmp_path, content):
    path = tmp_path / "lambda_logits.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(UserError, match="lambda_logits.pt"):
        read_lambda_logits(tmp_path)


@pytest.mark.parametrize("threshold,mode", [(1.5, "hard"), (0.0, "soft"), (-0.2, "hard"), (1.0, "hard"), (0.5, "medium")])
def test_thresholds_outside_0_1_and_unknown_modes_are_refused(threshold, mode):
    with pytest.raises(UserError, match="outside \\(0, 1\\)|valid: hard, soft"):
        check_threshold(threshold, mode)


@pytest.mark.parametrize("text,message", [(None, "not found"), ("{not json", "not valid JSON"), ("[1, 2]", "must be an object"),
                                          ('{"0": [1, "x"]}', "is not"), ('{"9": [1]}', "outside"), ('{"0": [400]}', "outside")])
def test_missing_or_malformed_neuron_indices_are_refused(gate_files, text, message):
    path = gate_files / "neuron_indices.json"
    if text is None:
        path.unlink()
    else:
        path.write_text(text)
    with pytest.raises(UserError, match=message):
        read_neuron_indices(gate_files, (4, 384))


def test_a_dataset_without_the_needed_columns_is_refused():
    data = OmegaConf.merge(OmegaConf.structured(DataConfig), {"seq_len": 64, "sources": {
        "knowledge": {"schema": "popqa", "path": "parquet", "data_files": {"train": asset_path("tiny_corpus/numina/train.parquet")}},
        "reasoning": {"schema": "numina", "path": "parquet", "data_files": {"train": asset_path("tiny_corpus/numina/train.parquet")}},
    }})  # typed, as a composed run config is
    with pytest.raises(UserError, match=r"lacks column\(s\) \['subj', 'prop', 'obj', 'question', 'possible_answers'\]"):
        load_gate_rows(data)
    data.sources.pop("reasoning")
    data.sources.knowledge.data_files.train = asset_path("tiny_corpus/popqa/train.parquet")
    with pytest.raises(UserError, match="need a knowledge source .* and a reasoning source"):
        load_gate_rows(data)


def test_gates_of_another_model_are_refused_by_apply(quick_reference, tmp_path):
    from gates.apply import applied_model

    write_gate_files(tmp_path, torch.randn(3, 384))
    (tmp_path / "metadata.json").write_text(json.dumps({"base_model": str(tiny_reference_dir(quick_reference))}))
    with pytest.raises(UserError, match="3 layers x 384 neurons, but the model has 4 layers x 384"):
        applied_model(tmp_path, "hard", 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["threshold"])
def test_apply_cli_gives_one_line_and_exit_code_2(quick_reference, tmp_path, case):
    gates = tmp_path / "gates"
    write_gate_files(gates, torch.randn(3 if case == "shape" else 4, 384))
    (gates / "metadata.json").write_text(json.dumps({"base_model": str(tiny_reference_dir(quick_reference))}))
    before = sorted(p.name for p in gates.iterdir())
    threshold = "threshold=1.5" if case == "threshold" else "threshold=0.5"
    out = run_here(["gates.apply", f"gates_dir={gates}", threshold, f"paths.runs={quick_reference}"], cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert ("outside (0, 1)" in lines[0]) if case == "threshold" else ("3 layers x 384 neurons" in lines[0])
    assert sorted(p.name for p in gates.iterdir()) == before  # no half-written applied/ folder
    shutil.rmtree(tmp_path)
