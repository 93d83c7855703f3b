"""Promise 8: every user-facing input of the README's bad-input table, mistyped, through the command line.

Each case runs the real entry point as ``python -m <module> <args>`` does (``runpy`` in this process, to
skip a 5 s interpreter start per case; ``test_bad_input.py`` runs one in a real subprocess): it must exit
with code 2, print one ``error:`` line (or Hydra's own message for configs that do not compose) and no
traceback, and leave every file that existed before untouched, with no new artifact beside Hydra's logs.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig

from gates.files import write_gate_files
from lab.config import asset_path
from tests.conftest import run_module

pytestmark = pytest.mark.slow

# id: (module, arguments, what the message must contain)
CASES = {
    "train/unknown_variant": ("ablations.train", ["variant=no_qk_nrom"], "Could not find 'variant/no_qk_nrom'"),
    "train/unknown_key": ("ablations.train", ["optimizer.lrr=1"], "valid optimizer keys: lr, betas, eps"),
    "train/unparsable_value": ("ablations.train", ["data.batch_size=abc"], "data.batch_size='abc' is invalid"),
    "train/zero_batch_size": ("ablations.train", ["data.batch_size=0"], "data.batch_size=0 is invalid; expected a positive integer"),
    "train/negative_lr": ("ablations.train", ["optimizer.lr=-1"], "optimizer.lr=-1.0 is invalid"),
    "train/betas": ("ablations.train", ["optimizer.betas=[0.9,1.5]"], "optimizer.betas=[0.9, 1.5] is invalid"),
    "train/unknown_corpus": ("ablations.train", ["data=tiny_txt"], "Could not find 'data/tiny_txt'"),
    "train/warmup_fraction": ("ablations.train", ["optimizer.warmup_fraction=1"], "optimizer.warmup_fraction=1.0 is invalid; expected null or a number in [0, 1)"),
    "train/horizon_within_warmup": ("ablations.train", ["trainer.max_steps=20", "optimizer.warmup_steps=30"],
                                    "the run's 20 optimizer steps are fewer than its warmup of 30 (optimizer.warmup_steps=30)"),
    "train/final_loss_over_more_validations": ("ablations.train", ["eval.final_loss_evaluations=3", "trainer.val_check_interval=2"],
                                               "eval.final_loss_evaluations=3 averages the last 3 validations, but the run holds 1"),
    "train/compile_backend": ("ablations.train", ["compile.backend=indcutor"], "compile.backend='indcutor' is invalid"),
    "train/artifacts_dtype": ("ablations.train", ["artifacts.dtype=float8"], "artifacts.dtype='float8' is invalid; expected one of float32"),
    "train/unknown_logger": ("ablations.train", ["logger.kind=tensorboard"], "logger.kind='tensorboard' is invalid"),
    "train/missing_model": ("ablations.train", ["model.init=pretrained", "model.pretrained=/no/such/model"],
                            "model path /no/such/model does not exist"),
    "train/non_qwen3_model": ("ablations.train", ["model.init=pretrained", "model.pretrained={llama}"], "is a 'llama' checkpoint, not Qwen3"),
    "train/missing_data_file": ("ablations.train", ["data=hf", "data.sources.text.path=parquet",
                                                    "data.sources.text.data_files=/no/such/*.parquet"], "not found"),
    "train/wrong_text_column": ("ablations.train", ["data=hf", "data.sources.text.path=parquet", "data.sources.text.data_files={popqa}",
                                                    "data.sources.text.text_column=body"], "lacks column(s) ['body']"),
    "train/seq_len_above_data": ("ablations.train", ["data.seq_len=100000"], "fewer than data.seq_len=100000 tokens"),
    "train/unknown_trainer_arg": ("ablations.train", ["+trainer.not_an_argument=1"], "bad trainer option"),
    "train/bad_precision": ("ablations.train", ["trainer.precision=fp99"], "bad trainer configuration"),
    "train/missing_ckpt": ("ablations.train", ["ckpt_path=/no/such.ckpt"], "ckpt_path=/no/such.ckpt is not a file"),
    "train/pickle_ckpt": ("ablations.train", ["ckpt_path={pickle}"], "is not a plain checkpoint; refusing to unpickle it"),
    "gates.train/warmup_longer_than_run": ("gates.train", ["gates.optimizer.warmup_steps=100000"],
                                           "fewer than its warmup of 100000 (gates.optimizer.warmup_steps=100000)"),
    "gates.train/zero_temperature": ("gates.train", ["gates.temperature=0"], "gates.temperature=0.0 is invalid"),
    "gates.train/no_knowledge_columns": ("gates.train", ["data=hf", "data.sources.text.path=parquet",
                                                         "data.sources.text.data_files={numina}"], "lacks column(s)"),
    "gates.apply/threshold": ("gates.apply", ["gates_dir={gates}", "threshold=1.5"], "threshold=1.5 is outside (0, 1)"),
    "gates.apply/mode": ("gates.apply", ["gates_dir={gates}", "mode=medium"], "mode='medium' is invalid; expected one of hard, soft"),
    "gates.apply/missing_gates_dir": ("gates.apply", ["gates_dir=/no/such/run"], "/no/such/run"),
    "gates.evaluate/missing_gates_dir": ("gates.evaluate", ["gates_dir=/no/such/run"], "/no/such/run"),
    "vindex.build/missing_source": ("vindex.build", ["source=/no/such/model"], "/no/such/model"),
    "vindex.build/non_qwen3_source": ("vindex.build", ["source={llama}"], "llama"),
    "vindex.build/offline_hub_id": ("vindex.build", ["source=Qwen/Qwen3-8B"], "Qwen/Qwen3-8B"),
    "vindex.build/bad_dtype": ("vindex.build", ["dtype=f8"], "dtype='f8' is invalid; expected one of f16, f32"),
    "vindex.build/out_exists": ("vindex.build", ["out={existing}"], "exists; pass overwrite=true or another out="),
    "vindex.build/too_many_features": ("vindex.build", ["vindex.num_features=100000"], "100000"),
    "vindex.constants/short_probe": ("vindex.constants", ["probe={short_probe}"], "tokens; at least"),
    "vindex.constants/missing_probe": ("vindex.constants", ["probe=/no/such/probe.txt"], "/no/such/probe.txt"),
    "vindex.gate3/layer_outside": ("vindex.gate3", ["gate3.layers=[99]"], "gate3.layers=[99] outside 0..3"),
    "vindex.gate3_benchmark/layer_rule": ("vindex.gate3_benchmark", ["gate3.layer_rule=best"],
                                          "gate3.layer_rule='best' is invalid; expected top_contributor or a layer number"),
    "vindex.gate3_benchmark/layer_outside": ("vindex.gate3_benchmark", ["gate3.layer_rule=99"], "gate3.layer_rule=99 is outside"),
    "vindex.gate3_benchmark/unknown_relation": ("vindex.gate3_benchmark", ["gate3.relation=capitol"], "gate3.relation='capitol'"),
    "gates.localise/unknown_method": ("gates.localise", ["methods=[gates,probe]"],
                                       "methods=['gates', 'probe'] is invalid; expected one or more of gates"),
    "gates.localise/budget": ("gates.localise", ["budget=0"], "budget=0.0 is invalid; expected a number in (0, 1)"),
    "gates.localise/unknown_task": ("gates.localise", ["tasks=[tiny_factz]"], "unknown lm-eval task(s) ['tiny_factz']"),
    "gates.localise/contrast_step": ("gates.localise", ["relearn.contrast_step=7"],
                                      "relearn.contrast_step=7 is invalid; expected one of relearn.steps [0, 10, 50]"),
    "gates.localise/budgets": ("gates.localise", ["budgets=[0.01,1.5]"], "budgets=[0.01, 1.5] is invalid; expected a list of numbers in (0, 1)"),
    "gates.localise/held_out_split": ("gates.localise", ["train=['gates.held_out=0.95']"],
                                       "into 6 to forget and 111 held out (seed 0); the benchmark needs at least 10 on each side"),
    "vindex.pipeline/missing_source": ("vindex.pipeline", ["source=/nonexistent"], "source=/nonexistent does not exist"),
    "vindex.constants/missing_source": ("vindex.constants", ["source=/nonexistent"], "source=/nonexistent does not exist"),
    "vindex.gate3/save_exists": ("vindex.gate3", ["gate3.save={llama}"], "exists; remove it or name another folder"),
    "vindex.gate3/missing_source": ("vindex.gate3", ["source=/nonexistent"], "source=/nonexistent does not exist"),
    "vindex.constants/offline_hub_id": ("vindex.constants", ["source=Qwen/Qwen3-8B"], "Qwen/Qwen3-8B"),
    "vindex.pipeline/layer_outside": ("vindex.pipeline", ["gate3.layers=[99]"], "gate3.layers=[99] outside 0..3"),
    "lab.dev.synthetic/unknown_shape": ("lab.dev.synthetic", ["qwen3-9b", "{root}/synthetic"], "unknown shape 'qwen3-9b'; valid: qwen3-0.6b, qwen3-8b"),
    "vindex.verify/tampered": ("vindex.verify", ["{tampered}"], "does not match its SHA256SUMS entry"),
    "vindex.verify/truncated": ("vindex.verify", ["{truncated}"], "truncated.vindex/down_meta.bin"),
    "lab.runs.verify/not_an_artifact": ("lab.runs.verify", ["{llama}"], "SHA256SUMS"),
    "train/surgery_on_an_untrained_model": ("ablations.train", ["regime=surgery"], "regime=surgery starts from a trained model"),
    "study/no_study": ("ablations.study", ["{llama}"], "holds no study: no all_train_metrics.json"),
    "study/mixed_models": ("ablations.study", ["{mixed_study}"], "mixes models (qwen3_0.6b, tiny_reference)"),
    "study/mixed_configs": ("ablations.study", ["{mixed_config_study}", "--no-wandb"],
                            "its runs differ in optimizer.warmup_steps, which the study does not sweep"),
    "lab.publish/no_folder": ("lab.publish", ["repo_id=me/x"], "folder is required: pass folder=..."),
    "lab.publish/not_an_artifact": ("lab.publish", ["folder={llama}", "repo_id=me/llama"], "is none of the folders this suite writes"),
    "lab.publish/invalid_repo_id": ("lab.publish", ["folder={gates}", "repo_id=not/a/repo"], "repo_id='not/a/repo' is invalid"),
    "lab.publish/unknown_dtype": ("lab.publish", ["folder={gates}", "repo_id=me/gates", "dtype=int4"], "dtype='int4' is invalid"),
    "lab.publish/offline": ("lab.publish", ["folder={gates}", "repo_id=me/gates"], "HF_HUB_OFFLINE is set: nothing was uploaded"),
    "lab.plan/unknown_experiment": ("lab.plan", ["experiment=nonexistent"], "valid experiment options: "),
    "lab.plan/device_memory_not_a_number": ("lab.plan", ["plan.device_memory_gb=x"], "plan.device_memory_gb='x' is invalid"),
    "train/unknown_intervention": ("ablations.train", ["intervention=z_los"], "Could not find 'intervention/z_los'"),
    "train/unknown_intervention_key": ("ablations.train", ["optimizer.z_los=1e-4"], "did you mean optimizer.z_loss?"),
    "train/weight_decay_mode": ("ablations.train", ["optimizer.weight_decay_mode=decoupled"],
                                "optimizer.weight_decay_mode='decoupled' is invalid; expected one of coupled, independent"),
}
COMMON = {  # where each tool writes, pointed into the test's folder
    "ablations.train": ["logger=none", "paths.runs={runs}", "trainer.max_steps=2", "optimizer.warmup_steps=2", "trainer.enable_progress_bar=false"],
    "gates.train": ["logger=none", "paths.runs={runs}", "trainer.max_steps=2", "trainer.enable_progress_bar=false"],
    "gates.apply": ["paths.runs={runs}"],
    "gates.evaluate": ["paths.runs={runs}"],
    "vindex.build": ["paths.runs={runs}"],
    "vindex.constants": ["paths.runs={runs}"],
    "vindex.gate3": ["paths.runs={runs}"],
    "vindex.gate3_benchmark": ["paths.runs={runs}"],
    "gates.localise": ["paths.runs={runs}"],
    "vindex.pipeline": ["paths.runs={runs}"],
}
HYDRA_OWN = (".hydra", ".lock")


@pytest.fixture(scope="module")
def inputs(quick_reference, tmp_path_factory) -> dict[str, str]:
    return build_inputs(quick_reference, tmp_path_factory)


def build_inputs(quick_reference: Path, tmp_path_factory) -> dict[str, str]:
    """Real inputs a user could mistype: a Llama folder, a pickle with a payload, a short probe, gate files, a tampered vindex."""
    from tests.conftest import compose_vindex
    from vindex.build import build

    root = tmp_path_factory.mktemp("bad_input")
    runs = root / "runs"
    runs.mkdir()
    (runs / "reference").symlink_to(quick_reference / "reference")
    llama = root / "llama"
    LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4).save_pretrained(llama)
    pickle_file = root / "evil.ckpt"
    pickle_file.write_bytes(b"cos\nsystem\n(S'touch " + str(root / "pwned").encode() + b"'\ntR.")
    short_probe = root / "short.txt"
    short_probe.write_text("Paris is in France.")
    gates = root / "gate_run"
    write_gate_files(gates, torch.randn(4, 384))
    existing = root / "existing.vindex"
    build(compose_vindex([f"paths.runs={runs}", f"out={existing}"]))
    tampered = root / "tampered.vindex"
    build(compose_vindex([f"paths.runs={runs}", f"out={tampered}"]))
    with open(tampered / "gate_vectors.bin", "r+b") as f:
        f.write(b"\x00\x01")
    truncated = root / "truncated.vindex"
    shutil.copytree(tampered, truncated)
    with open(truncated / "down_meta.bin", "r+b") as f:
        f.truncate(100)
    mixed_study = root / "mixed_study"
    mixed_study.mkdir()
    (mixed_study / "all_train_metrics.json").write_text(json.dumps({
        f"original/lr={lr}": {"variant": "original", "lr": lr, "seed": 0, "status": "ok", "final_val_loss": 1.0, "model": model}
        for lr, model in ((1e-3, "tiny_reference"), (1e-2, "qwen3_0.6b"))}))
    mixed_config_study = root / "mixed_config_study"
    entries = {f"original/lr={lr}": {"variant": "original", "lr": lr, "seed": 0, "status": "ok", "final_val_loss": 1.0, "vocab_size": 100,
                                     "model": "tiny", "swept": {"optimizer.lr": lr}} for lr in (1e-3, 1e-2)}
    for name, warmup in zip(entries, (15, 60), strict=True):
        run = mixed_config_study / f"{name}_finetuned"
        run.mkdir(parents=True)
        (run / ".run_config.json").write_text(json.dumps({"optimizer.lr": entries[name]["lr"], "optimizer.warmup_steps": warmup, "seed": 0}))
    (mixed_config_study / "all_train_metrics.json").write_text(json.dumps(entries))
    return {"runs": str(runs), "llama": str(llama), "mixed_study": str(mixed_study), "mixed_config_study": str(mixed_config_study), "pickle": str(pickle_file), "short_probe": str(short_probe),
            "gates": str(gates), "existing": str(existing), "tampered": str(tampered), "truncated": str(truncated), "root": str(root),
            "popqa": asset_path("tiny_corpus/popqa/train.parquet"), "numina": asset_path("tiny_corpus/numina/train.parquet")}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not any(part in HYDRA_OWN for part in p.parts) and p.suffix != ".log"}


TOOL_CASES = sorted(c for c in CASES if c.startswith(("vindex.", "gates.", "lab.")))  # tests/test_bad_input_table_tools.py


@pytest.mark.parametrize("case", sorted(set(CASES) - set(TOOL_CASES)))
def test_each_wrong_input_gets_one_clear_message_exit_2_and_damages_nothing(case, inputs, capfd, monkeypatch, tmp_path):
    check_case(case, inputs, capfd, monkeypatch, tmp_path)


def check_case(case: str, inputs: dict[str, str], capfd, monkeypatch, tmp_path: Path) -> None:
    """Run ``CASES[case]``'s entry point: exit 2, one ``error:`` line, no traceback, nothing written or changed."""
    module, args, expected = CASES[case]
    monkeypatch.chdir(tmp_path)  # vindex tools run in the current folder
    args = [a.format(**inputs) for a in (*COMMON.get(module, []), *args)]  # the case's own values win
    root = Path(inputs["root"])
    before = snapshot(root)
    code = run_module(module, args)
    out, err = capfd.readouterr()
    assert code == 2, f"exit code {code}:\n{err[-2000:]}"
    assert "Traceback" not in out + err
    assert expected in err, err[-2000:]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) <= 1 and (errors or "HYDRA_FULL_ERROR" in err), err[-2000:]
    assert snapshot(root) == before
    assert not (root / "pwned").exists()
