"""In-process training: every variant trains, collapse is detected, artifacts reload."""

import hashlib
import json
import math

import lightning as L
import pytest
import torch
from transformers import AutoModelForCausalLM, Qwen3Config

import ablations
from ablations.train import train
from lab.config.errors import UserError
from tests.conftest import FAST, VARIANTS, compose_train


def run(tmp_path, *overrides: str) -> tuple[dict, dict]:
    cfg = compose_train([*FAST, "logger=none", *overrides], output_root=tmp_path)
    entry = train(cfg)
    summary = json.loads((tmp_path / "all_train_metrics.json").read_text())
    return entry, summary


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_trains_a_few_steps(tmp_path, name):
    entry, summary = run(tmp_path, f"variant={name}", "trainer.max_steps=4", "eval.accuracy=false")
    assert summary[name]["status"] == "ok", summary
    assert entry["steps"] == 4 and math.isfinite(entry["final_train_loss"])
    rows = json.loads((tmp_path / f"{name}_finetuned" / "train_metrics.json").read_text())
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    last_train_row = [r for r in rows if "train/loss" in r][-1]
    assert {"train/lr", "train/grad_norm", "train/tokens_per_s", "train/tokens"} <= set(last_train_row)
    meta = json.loads((tmp_path / name / "metadata.json").read_text())
    assert meta["variant"] == name and meta["stage"] == "base" and meta["num_params"] > 0
    for folder in (tmp_path / name, tmp_path / f"{name}_finetuned"):  # both stages load exactly with one stock call
        assert_loads_with_stock_transformers(folder, name)


def assert_loads_with_stock_transformers(folder, variant: str) -> None:
    """``AutoModelForCausalLM.from_pretrained`` gives ``ablations.load``'s logits bit for bit: a plain qwen3 folder for
    ``original``; for any other variant only with ``trust_remote_code`` (its shipped code), and never silently
    without it (stock RMSNorms with fresh weights would load, wrong, with model_type qwen3)."""
    ids = torch.randint(0, 300, (2, 9))
    with torch.no_grad():
        ours = ablations.load(folder)(ids).logits
        stock = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=variant != "original").eval()
        assert torch.equal(stock(ids).logits, ours)
    if variant == "original":
        assert json.loads((folder / "config.json").read_text())["model_type"] == "qwen3" and not list(folder.glob("*.py"))
        return
    assert json.loads((folder / "config.json").read_text())["variant_spec"]["name"] == variant
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False)


def test_training_lowers_the_loss_and_logs_accuracies(tmp_path):
    """Also with ``compile.enabled`` (backend aot_eager: Dynamo + AOTAutograd without a C++ toolchain): the
    compiled training steps learn, and validation and greedy generation run beside them."""
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    entry, _ = run(tmp_path, "trainer.max_steps=40", "trainer.val_check_interval=20", "compile.enabled=true", "compile.backend=aot_eager")
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2  # the decoder and the loss chunk
    rows = json.loads((tmp_path / "original_finetuned" / "train_metrics.json").read_text())
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0
    vals = [r for r in rows if "val/loss" in r]
    assert [r["step"] for r in vals] == [20, 40]
    assert 0.0 <= entry["knowledge_acc"] <= 1.0 and 0.0 <= entry["reasoning_acc"] <= 1.0
    assert entry["tokens"] == 40 * 4 * 128


@pytest.mark.long
def test_inductor_compiled_runs_are_bit_identical_on_cpu(tmp_path):
    """The main job's path: Inductor-compiled steps, on 2 threads as ``make train`` runs them. With
    ``trainer.deterministic: auto`` (on for CPU) two runs of one config end with the same weights, bit for bit;
    without it Inductor's parallel CPU kernels make them differ in the last bits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    digests = []
    try:
        for i in range(2):
            torch._dynamo.reset()
            torch._dynamo.utils.counters.clear()
            run(tmp_path / str(i), "trainer.max_steps=30", "trainer.val_check_interval=30", "eval.accuracy=false",
                "compile.enabled=true")
            assert torch._dynamo.utils.counters["inductor"], "the steps were not compiled by Inductor"
            digests.append(hashlib.sha256((tmp_path / str(i) / "original_finetuned" / "model.safetensors").read_bytes()).hexdigest())
    finally:
        torch.set_num_threads(threads)
    assert digests[0] == digests[1]


class PoisonWeights(L.Callback):
    """A real fault: turn one weight into NaN before step ``at``, as a diverging run would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at:
            with torch.no_grad():
                pl_module.model.model.layers[0].mlp.up_proj.weight[0, 0] = float("nan")


def test_collapse_is_detected_and_recorded(tmp_path, monkeypatch):
    import lab.train.run as lab_run

    original_health = lab_run.TrainingHealth

    class HealthWithFault(original_health):  # the health monitor plus the injected fault, in one callback slot
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            PoisonWeights(at=3).on_train_batch_start(trainer, pl_module, batch, batch_idx)

    monkeypatch.setattr(lab_run, "TrainingHealth", HealthWithFault)
    entry, summary = run(tmp_path, "trainer.max_steps=10", "eval.accuracy=false")
    got = summary["original"]
    assert got["status"] == "collapsed"
    assert got["final_train_loss"] is None  # never 0.0
    assert got["collapsed_at_step"] == 4 and got["steps"] == 4  # the 4th step saw the NaN, and nothing after it
    assert math.isfinite(got["last_finite_train_loss"])
    assert "non-finite" in got["collapse_reason"]


def test_artifacts_reload_with_ablations_load_and_the_seed_snippet(tmp_path):
    run(tmp_path, "variant=no_qk_norm", "trainer.max_steps=3", "eval.accuracy=false")
    for folder in ("no_qk_norm", "no_qk_norm_finetuned"):
        model = ablations.load(tmp_path / folder)
        assert type(model.model.layers[0].self_attn.q_norm).__name__ == "Identity"
        state = torch.load(tmp_path / folder / "model.pt", map_location="cpu", weights_only=True)
        assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    # The seed's usage snippet: stock model, torch.load, load_state_dict(strict=False).
    stock = AutoModelForCausalLM.from_config(Qwen3Config.from_json_file(str(tmp_path / "no_qk_norm_finetuned" / "config.json")))
    # The snippet's line as the seed wrote it (torch >= 2.6 defaults to weights_only=True).
    state = torch.load(tmp_path / "no_qk_norm_finetuned" / "model.pt", map_location="cpu")
    result = stock.load_state_dict(state, strict=False)
    assert result.unexpected_keys == [] and all("q_norm" in k or "k_norm" in k for k in result.missing_keys)
    reloaded = ablations.load(tmp_path / "no_qk_norm_finetuned")
    assert torch.equal(reloaded.lm_head.weight, stock.lm_head.weight)


def test_original_artifact_loads_fully_into_the_stock_model(tmp_path):
    run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false")
    folder = tmp_path / "original_finetuned"
    stock = AutoModelForCausalLM.from_config(Qwen3Config.from_json_file(str(folder / "config.json"))).eval()
    result = stock.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    ids = torch.randint(0, 500, (2, 10))
    assert torch.equal(stock(ids).logits, ablations.load(folder)(ids).logits)


def test_a_finished_run_is_skipped_never_overwritten(tmp_path):
    first, _ = run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false")
    before = (tmp_path / "original_finetuned" / "model.safetensors").stat()
    again, summary = run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false")
    after = (tmp_path / "original_finetuned" / "model.safetensors").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert again == first == summary["original"]  # the recorded result, not a new run


def test_a_damaged_finished_run_is_refused_with_the_file_named(tmp_path):
    run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false")
    (tmp_path / "original_finetuned" / "config.json").write_text("{}")
    with pytest.raises(UserError, match=r"original_finetuned/config.json does not match"):
        run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false")


@pytest.mark.parametrize("streaming", [False, True])
def test_data_hf_trains_on_any_text_dataset(tmp_path, streaming):
    """data=hf with a local parquet file and a chosen text column, map-style and streaming."""
    from lab.config import asset_path

    entry, _ = run(
        tmp_path, "data=hf", "data.sources.text.path=parquet", f"data.sources.text.data_files={asset_path('tiny_corpus/numina/train.parquet')}",
        "data.sources.text.text_column=solution", f"data.sources.text.streaming={str(streaming).lower()}", "data.seq_len=64",
        "data.num_workers=0", "trainer.max_steps=3", "eval.accuracy=false",
    )
    assert entry["status"] == "ok" and entry["steps"] == 3 and entry["tokens"] == 3 * 4 * 64
    assert entry["final_val_loss"] is not None  # held-out docs from the train split (a stream's first ones)


def test_a_stream_s_held_out_rows_never_reach_its_training_loader_workers(tmp_path):
    """data.sources.*.streaming: the held-out rows are the stream's first ones, and the training stream leaves them out
    by content, whatever its loader's workers each read of two shuffled files (a skip would be split between the
    workers and miss rows once the shuffle is reseeded in each)."""
    import datasets
    from torch.utils.data import DataLoader

    from lab.data.sources import load_split, streamed_and_held_out

    files = []
    for part in range(2):
        path = tmp_path / f"part{part}.parquet"
        datasets.Dataset.from_dict({"text": [f"document {part}-{i}" for i in range(60)]}).to_parquet(str(path))
        files.append(str(path))
    source = {"schema": "text", "text_column": "text", "path": "parquet", "data_files": {"train": files}, "streaming": True, "shuffle_seed": 3}
    stream, held = streamed_and_held_out(source, load_split(source, "train"), val_docs=20)
    trained = [row["text"] for batch in DataLoader(stream, batch_size=None, num_workers=2) for row in [batch]]
    assert len(held) == 20 and not {r["text"] for r in held} & set(trained)
    assert sorted(trained + [r["text"] for r in held]) == sorted(f"document {p}-{i}" for p in range(2) for i in range(60))
    _, few = streamed_and_held_out({**source, "limit": 50}, load_split({**source, "limit": 50}, "train"), val_docs=20)
    assert len(few) == 5  # a tenth of a stream cut to 50 rows: most of it is left to train on


def test_every_stage_folder_has_a_hub_model_card(tmp_path):
    from huggingface_hub import ModelCard

    run(tmp_path, "variant=no_qk_norm", "trainer.max_steps=2", "eval.accuracy=false")
    for stage, folder in (("base", tmp_path / "no_qk_norm"), ("finetuned", tmp_path / "no_qk_norm_finetuned")):
        card = ModelCard.load(folder / "README.md")
        assert card.data.library_name == "transformers" and "no_qk_norm" in card.data.tags
        assert f"`no_qk_norm` ({stage})" in card.text and "q_norm, self_attn.k_norm is removed (identity)" in card.text
        assert "README.md" in (folder / "SHA256SUMS").read_text()
    assert "| status | ok |" in (tmp_path / "no_qk_norm_finetuned" / "README.md").read_text()


def test_a_finished_run_keeps_one_checkpoint_without_the_optimizer_state(tmp_path):
    run(tmp_path, "trainer.max_steps=4", "checkpoint_every_n_steps=2", "eval.accuracy=false")
    finetuned = tmp_path / "original_finetuned"
    assert sorted(p.name for p in (finetuned / "checkpoints").iterdir()) == ["last.ckpt", "last.ckpt.sha256"] and not (finetuned / "last.ckpt").exists()
    final = torch.load(finetuned / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 4 and final["state_dict"] and "optimizer_states" not in final


def test_keep_optimizer_state_keeps_adamws_moments(tmp_path):
    run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false", "artifacts.keep_optimizer_state=true")
    final = torch.load(tmp_path / "original_finetuned" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    (adamw,) = final["optimizer_states"]
    assert {"exp_avg", "exp_avg_sq"} <= set(next(iter(adamw["state"].values())))


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_artifact_formats_and_dtype_are_config_and_load_back(tmp_path, fmt):
    from safetensors.torch import load_file

    from lab.runs.checksums import check_sha256sums

    run(tmp_path, "trainer.max_steps=2", "eval.accuracy=false", f"artifacts.formats=[{fmt}]", "artifacts.dtype=bfloat16")
    for folder in (tmp_path / "original", tmp_path / "original_finetuned"):
        assert sorted(p.name for p in folder.glob("model.*")) == [f"model.{fmt}"]
        saved = (torch.load(folder / "model.pt", map_location="cpu", weights_only=True) if fmt == "pt"
                 else load_file(folder / "model.safetensors"))
        assert {v.dtype for v in saved.values() if v.is_floating_point()} == {torch.bfloat16}
        model = ablations.load(folder)  # strict: every parameter found (tied weights stored once)
        assert all(torch.equal(model.state_dict()[k], v.float()) for k, v in saved.items())
        assert f"`model.{fmt}` holds the state dict (bfloat16)" in (folder / "README.md").read_text()
        assert check_sha256sums(folder) >= 4
