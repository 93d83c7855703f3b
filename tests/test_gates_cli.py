"""Gates end to end, as users run them: train (W&B offline), export, apply, evaluate, sweep + DDP."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

import ablations
from gates.files import KEY_FORMAT, read_lambda_logits
from gates.masking import apply_gates
from lab.dev.wandb_offline import find_runs, read_run
from lab.model import load_artifact
from lab.runs.reference import tiny_reference_dir
from tests.conftest import GATE_QUICK, built_path, run_cli, run_here, run_module
from tests.golden_values import check_golden, check_golden_weights, load_weights, metric_series

pytestmark = pytest.mark.slow
QUICK = GATE_QUICK
SEED_SNIPPET = Path(__file__).parent / "seed_snippets" / "gates_usage.py"


@pytest.fixture(scope="module")
def gate_run(quick_gate_run) -> Path:
    """conftest's gate run (QUICK steps on the quick reference), this module's own copy."""
    return quick_gate_run


def test_golden_gate_run_keeps_its_recorded_losses(gate_run):
    check_golden("gate_run", metric_series(gate_run / "train_metrics.json"))
    check_golden_weights("gate_run", load_weights(gate_run / "lambda_logits.pt"))


def test_export_has_the_seeds_files_in_the_seeds_formats(gate_run, tmp_path_factory, worker_id):
    state = torch.load(gate_run / "lambda_logits.pt", map_location="cpu", weights_only=True)
    assert list(state) == [KEY_FORMAT.format(i) for i in range(4)] == [f"module.model.layers.{i}.mlp.lambda_logits" for i in range(4)]
    assert all(v.shape == (384,) and v.dtype == torch.float32 for v in state.values())
    gates = torch.sigmoid(torch.stack(list(state.values())))
    assert gates.std() > 0  # the λ moved in 4 steps
    indices = json.loads((gate_run / "neuron_indices.json").read_text())
    assert indices == {str(i): torch.nonzero(gates[i] < 0.5).flatten().tolist() for i in range(4)}
    stats = json.loads((gate_run / "gate_stats.json").read_text())
    assert stats["total_gates"] == 1536 and stats["mean"] == pytest.approx(float(gates.mean()), abs=1e-6)
    assert stats["min"] == pytest.approx(float(gates.min())) and stats["max"] == pytest.approx(float(gates.max()))
    thresholds = [float(t) for t in (gate_run / "selected_thresholds.txt").read_text().strip().split(",")]
    assert thresholds == [p["threshold"] for p in stats["selected_thresholds"]]
    for point, q in zip(stats["selected_thresholds"], (0.05, 0.25, 0.5, 0.75, 0.95), strict=True):
        masked = int((gates < point["threshold"]).sum())  # the threshold as read from the text file
        assert masked == point["neurons_masked"] and point["fraction_masked"] == masked / 1536  # exact, ties included
        assert point["target_off_fraction"] == q
    card = (gate_run / "README.md").read_text()
    assert card.startswith("---\n") and "| Total gates | 1,536 (4 layers × 384 intermediate) |" in card
    assert "## Selected thresholds" in card and f"{thresholds[2]:.3f}" in card
    meta = json.loads((gate_run / "metadata.json").read_text())
    trained_in = built_path("quick_gate_run", tmp_path_factory, worker_id) / "runs"  # where conftest trained it
    assert meta["base_model"] == str(tiny_reference_dir(trained_in)) and meta["gates"]["beta"] == 4.0
    assert len(json.loads((gate_run / "train_metrics.json").read_text())) == 4
    assert (gate_run / "gate_histogram.png").stat().st_size > 1000
    sums = (gate_run / "SHA256SUMS").read_text()
    assert all(name in sums for name in ("lambda_logits.pt", "neuron_indices.json", "gate_stats.json", "README.md"))
    assert sorted(p.name for p in (gate_run / "checkpoints").iterdir()) == ["last.ckpt", "last.ckpt.sha256"]  # one checkpoint kept (and its SHA-256), as ablations
    ckpt = torch.load(gate_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert sorted(ckpt["state_dict"]) == [f"model.model.layers.{i}.mlp.lambda_logits" for i in range(4)]  # λ only


def test_wandb_logs_losses_and_gate_statistics_every_step(gate_run):
    (run_dir,) = find_runs(gate_run)
    run = read_run(run_dir)
    steps = [row for row in run.history if "train/forget_loss" in row]
    assert len(steps) == 4
    for row in steps:
        for key in ("train/retain_loss", "gates/mean", "gates/std", "gates/min", "gates/max", "gates/frac_below_0.502", "gates/threshold_off50"):
            assert key in row, key
    (histogram,) = [row for row in run.history if row.get("gates/histogram/_type") == "histogram"]
    assert sum(histogram["gates/histogram/values"]) == 1536  # every gate, once
    assert run.config["gates"]["lambda_retain"] == 0.5 and run.config["model"]["name"] == "tiny_reference"


def test_the_seed_snippet_runs_unchanged_on_our_files(gate_run):
    """The seed card's usage code, verbatim except for the base model id (the hub is offline here)."""
    code = SEED_SNIPPET.read_text().replace('"Qwen/Qwen3-0.6B"', repr(str(tiny_reference_dir(gate_run.parents[1]))))
    code = code.replace("torch_dtype=torch.bfloat16", "torch_dtype=torch.float32")  # bf16 matmuls crawl on CPU
    scope: dict = {}
    import os

    cwd = os.getcwd()
    os.chdir(gate_run)
    try:
        exec(compile(code, str(SEED_SNIPPET), "exec"), scope)
    finally:
        os.chdir(cwd)
    model, neurons = scope["model"], scope["knowledge_neurons"]
    for layer, idx in neurons.items():
        mlp = model.model.layers[int(layer)].mlp
        assert idx and mlp.gate_proj.weight[idx].abs().sum() == 0 and mlp.up_proj.weight[idx].abs().sum() == 0
    assert set(scope["gate_state"]) == {f"module.model.layers.{i}.mlp.lambda_logits" for i in range(4)}


def test_training_continues_from_a_lambda_only_checkpoint(gate_run, tmp_path):
    runs = gate_run.parents[1]
    out = run_here(["gates.train", *QUICK, "trainer.max_steps=6", "logger=csv", f"ckpt_path={gate_run / 'checkpoints' / 'last.ckpt'}",
                   f"hydra.run.dir={tmp_path / 'resumed'}", f"paths.runs={runs}"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "resumed" / "all_gate_runs.json").read_text())
    (entry,) = summary.values()
    assert entry["steps"] == 6  # the finished run's 4 restored (λ and AdamW state) + 2 more, not 6 fresh
    rows = json.loads((tmp_path / "resumed" / "train_metrics.json").read_text())
    original = json.loads((gate_run / "train_metrics.json").read_text())
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6] and rows[:4] == original[:4]  # the history travels in the checkpoint


@pytest.mark.parametrize("mode,threshold", [("hard", None), ("hard", 0.5), ("soft", None)])
def test_apply_writes_a_loadable_model_folder(gate_run, tmp_path, mode, threshold):
    """The command line once (hard, from neuron_indices.json); the other modes through the same function in-process."""
    runs = gate_run.parents[1]
    args = [f"gates_dir={gate_run}", f"mode={mode}", f"out={tmp_path / 'applied'}", f"paths.runs={runs}"]
    if threshold is not None:
        args.append(f"threshold={threshold}")
    if (mode, threshold) == ("hard", None):
        out = run_here(["gates.apply", *args], cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
    else:
        from hydra import compose

        from gates.apply import write_applied
        from lab.config.registry import composing

        with composing():
            write_applied(compose(config_name="gates_apply", overrides=args))
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "applied").eval()
    expected = apply_gates(load_artifact(tiny_reference_dir(runs)), read_lambda_logits(gate_run), mode,
                           threshold if threshold is not None else (0.5 if mode == "hard" else 1.0))
    ids = torch.randint(0, 1000, (2, 12))
    torch.testing.assert_close(loaded(ids).logits, expected(ids).logits)
    assert torch.equal(ablations.load(tmp_path / "applied")(ids).logits, loaded(ids).logits)
    card, meta = (tmp_path / "applied" / "README.md").read_text(), json.loads((tmp_path / "applied" / "metadata.json").read_text())
    assert f"lambda gates folded in ({mode}" in card and "no remote code" in card and (meta["mode"], meta["threshold"]) == (mode, threshold)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["applied"]  # nothing else written
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=tmp_path / "applied").returncode == 0


def test_evaluate_compares_gates_with_the_random_control(gate_run):
    runs = gate_run.parents[1]
    out = run_here(["gates.evaluate", f"paths.runs={runs}", "data.eval_limit=6", "random_seeds=[0,1]", "modes=[hard]",
                   "max_new_tokens.reasoning=6"], cwd=runs.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((gate_run / "evaluation" / "evaluation.json").read_text())
    assert report["gates_dir"] == str(gate_run) and report["num_knowledge"] == 6 and report["num_reasoning"] == 6
    settings = report["settings"]
    assert len(settings) == 1 + 5 + 5 * 2
    unmasked = settings[0]
    assert unmasked["mode"] == "none" and unmasked["kl_to_base"] == pytest.approx(0.0, abs=1e-6)
    heavy = [s for s in settings if s["threshold"] == report["thresholds"][-1] and s["selection"] == "gates"][0]
    assert heavy["fraction_masked"] == pytest.approx(0.95, abs=1e-3) and heavy["kl_to_base"] > unmasked["kl_to_base"]
    summary = {(r["mode"], r["selection"], r["threshold"]): r for r in report["summary"]}
    assert all(r["n"] == 2 and "knowledge_acc_std" in r for k, r in summary.items() if k[1] == "random")
    table = (gate_run / "evaluation" / "evaluation.md").read_text()
    assert table.count("| hard | random |") == 5 and table.count("| hard | gates |") == 5
    assert (gate_run / "evaluation" / "tradeoff.png").stat().st_size > 1000
    assert "## Evaluation" in (gate_run / "README.md").read_text()
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=gate_run).returncode == 0  # refreshed with the card

    from tests.report_checks import assert_report

    markdown = assert_report(gate_run, gate_run.parent / "report", ["gate_histogram.png", "loss_curves.png",
                                                                     "tradeoff_accuracy.png", "tradeoff_loss.png"])
    assert "| hard | random |" in markdown and "| g < " in markdown


@pytest.mark.long
def test_a_sweep_over_beta_runs_each_job_on_two_ddp_ranks(quick_reference, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "reference").symlink_to(quick_reference / "reference")
    out = run_cli(["gates.train", "-m", "gates.beta=2.0,8.0", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
                   "trainer.max_steps=1", "logger=csv", "trainer.enable_progress_bar=false", "data.batch_size=2",
                   f"paths.runs={runs}"], cwd=tmp_path, timeout=480)
    assert out.returncode == 0, out.stderr[-3000:]
    (sweep,) = (runs / "gates" / "multirun").iterdir()
    summary = json.loads((sweep / "all_gate_runs.json").read_text())
    assert sorted(summary) == ["lambda_gates_original/beta=2.0", "lambda_gates_original/beta=8.0"]  # named by the swept value
    for name, entry in summary.items():
        assert entry["status"] == "ok" and entry["world_size"] == 2 and entry["steps"] == 1
        meta = json.loads((sweep / name / "metadata.json").read_text())
        assert meta["gates"]["beta"] == entry["swept"]["gates.beta"] == float(name.rsplit("=", 1)[1])
    assert not re.search(r"Traceback", out.stderr)


def test_a_gate_rerun_with_a_changed_config_is_refused(gate_run, capfd, monkeypatch):
    """Issue 15's rule for gates: a finished gate run is reused only for its own config."""
    def stamps(skip: tuple[str, ...] = ()) -> dict:  # the lock and the job log are the invocation's own
        return {p: p.stat().st_mtime_ns for p in gate_run.iterdir() if p.is_file() and p.name not in (".lock", *skip)
                and p.suffix != ".log"}

    files = stamps()
    args = [*QUICK, f"paths.runs={gate_run.parents[1]}", f"hydra.run.dir={gate_run}"]
    monkeypatch.chdir(gate_run.parents[2])  # both reruns end before training: run in this process (runpy)
    code = run_module("gates.train", [*args, "gates.beta=8.0"])
    out, err = capfd.readouterr()
    assert code == 2, err[-3000:]
    assert "holds a finished run of another config (gates.beta: 4.0 -> 8.0)" in err
    assert stamps() == files
    code = run_module("gates.train", args)
    out, err = capfd.readouterr()
    assert code == 0 and "same config): skipping it" in out + err, err[-3000:]
    assert stamps(skip=("all_gate_runs.json",)) == {p: t for p, t in files.items() if p.name != "all_gate_runs.json"}
