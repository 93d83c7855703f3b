"""A job's identity is its config: every job of a grid gets its own folder, and a folder's run is reused only
for the config it was run with (issue 15)."""

import json
from pathlib import Path

import lightning as L
import pytest

from lab.runs.identity import differences, identity, is_ignored
from lab.runs.job_name import format_job_name, swept_keys
from lab.train.callbacks import instantiate_callbacks
from tests.conftest import FAST, compose_train, kill_when, run_here, run_module

pytestmark = pytest.mark.slow
GRID = ["variant=original,no_qk_norm", "optimizer.lr=1e-3,3e-2"]


def artifact_stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """``{path: (mtime_ns, size)}`` of every file under ``folder`` except Hydra's own records of an invocation
    (``.hydra/``, job logs) and the sweep-level files a later sweep updates (its summary, its report)."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*"))
            if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log" and p.parent != folder
            and p.relative_to(folder).parts[0] != "report"}


def test_job_names_carry_only_the_swept_keys():
    assert swept_keys(["variant=glob(*)", "optimizer.lr=1e-3,3e-2", "seed=range(2)", "trainer.max_steps=6"]) == {
        "variant", "optimizer.lr", "seed"}
    assert format_job_name("original", {}) == "original"
    assert format_job_name("original", {"seed": "1", "optimizer.lr": "0.03"}) == "original/lr=0.03,seed=1"
    assert format_job_name("g", {"optimizer.lr": "1", "gates.lr": "2"}) == "g/gates.lr=2,optimizer.lr=1"  # ambiguous: in full
    assert format_job_name("x", {"data.path": "/a/b"}) == "x/path=%2Fa%2Fb"  # a value never nests folders


def test_identity_ignores_only_the_listed_keys():
    base = compose_train(["logger=none"])
    moved = compose_train(["logger=csv", "trainer.enable_progress_bar=false", "paths.runs=/elsewhere", "checkpoint_every_n_steps=7"])
    assert differences(identity(base), identity(moved)) == []
    changed = compose_train(["optimizer.lr=1e-3", "seed=3"])
    assert differences(identity(base), identity(changed)) == ["optimizer.lr: 0.0045 -> 0.001", "seed: 0 -> 3"]
    assert is_ignored("logger.kind") and is_ignored("hydra") and not is_ignored("loggers") and not is_ignored("optimizer.lr")


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """2 variants x 2 learning rates into one named sweep folder."""
    tmp = tmp_path_factory.mktemp("grid")
    sweep = tmp / "sweep"
    out = run_here(["ablations.train", "-m", *GRID, *FAST, "logger=none", f"paths.runs={tmp / 'runs'}", f"hydra.sweep.dir={sweep}"],
                  cwd=tmp)
    assert out.returncode == 0, out.stderr[-3000:]
    return sweep


def test_every_job_of_a_grid_gets_its_own_folder_and_summary_entry(grid):
    summary = json.loads((grid / "all_train_metrics.json").read_text())
    assert sorted(summary) == ["no_qk_norm/lr=0.001", "no_qk_norm/lr=0.03", "original/lr=0.001", "original/lr=0.03"]
    for name, entry in summary.items():
        variant, lr = name.split("/lr=")
        assert entry["status"] == "ok" and entry["steps"] == 6
        assert entry["swept"] == {"optimizer.lr": float(lr), "variant": variant}
        assert (entry["variant"], entry["lr"], entry["seed"]) == (variant, float(lr), 0)
        for folder in (grid / name, grid / f"{name}_finetuned"):  # the seed's <name>/ and <name>_finetuned/ layout
            meta = json.loads((folder / "metadata.json").read_text())
            assert meta["config"]["optimizer"]["lr"] == float(lr) and meta["variant"] == variant
    weights = {(grid / f"{name}_finetuned" / "model.safetensors").read_bytes() for name in summary}
    assert len(weights) == 4  # four different trainings, none skipped as another's


def test_a_second_sweep_over_seeds_adds_its_jobs_and_touches_nothing_finished(grid):
    before = artifact_stamps(grid)
    tmp = grid.parent
    out = run_here(["ablations.train", "-m", "variant=original", "optimizer.lr=1e-3", "seed=1,2", *FAST, "logger=none",
                   f"paths.runs={tmp / 'runs'}", f"hydra.sweep.dir={grid}"], cwd=tmp)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((grid / "all_train_metrics.json").read_text())
    assert {"original/seed=1", "original/seed=2"} <= set(summary) and len(summary) == 6
    assert summary["original/seed=2"]["swept"] == {"seed": 2} and summary["original/seed=2"]["lr"] == 0.001
    after = artifact_stamps(grid)
    assert {k: v for k, v in after.items() if k in before} == before


def test_a_rerun_with_a_changed_config_is_refused_and_an_unchanged_one_skips(tmp_path, capfd, monkeypatch):
    run = tmp_path / "run"
    command = ["ablations.train", *FAST, "logger=none", f"hydra.run.dir={run}"]
    first = run_here(command, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    before = artifact_stamps(run)
    monkeypatch.chdir(tmp_path)  # the two reruns that end before training run in this process (runpy), as python -m would

    code = run_module(command[0], [*command[1:], "optimizer.lr=1e-3"])
    out, err = capfd.readouterr()
    assert code == 2, err[-3000:]
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "holds a finished run of another config (optimizer.lr: 0.0045 -> 0.001)" in line and "overwrite=true" in line
    assert "Traceback" not in out + err
    assert artifact_stamps(run) == before

    code = run_module(command[0], [*command[1:], "logger=csv"])  # the logger cannot change the result
    out, err = capfd.readouterr()
    assert code == 0, err[-3000:]
    assert "is finished (SHA256SUMS intact, same config): skipping it" in out + err
    assert artifact_stamps(run) == before

    replaced = run_here([*command, "optimizer.lr=1e-3", "overwrite=true"], cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    meta = json.loads((run / "original_finetuned" / "metadata.json").read_text())
    assert meta["config"]["optimizer"]["lr"] == 0.001 and meta["result"]["steps"] == 6


def test_in_a_sweep_a_changed_job_fails_alone_and_the_others_run(grid):
    """The grid's folder again, now with one job whose config changed: that job is recorded failed, the new one runs."""
    tmp = grid.parent
    out = run_here(["ablations.train", "-m", "variant=original,no_layer_norm", "optimizer.lr=choice(1e-3)", *FAST,
                   "optimizer.weight_decay=0.05", "logger=none", f"paths.runs={tmp / 'runs'}", f"hydra.sweep.dir={grid}"], cwd=tmp)
    assert out.returncode == 1, out.stderr[-3000:]
    summary = json.loads((grid / "all_train_metrics.json").read_text())
    failed = summary["original/lr=0.001"]
    assert failed["status"] == "failed" and "ConfigChanged" in failed["error"]
    assert "optimizer.weight_decay: 0.1 -> 0.05" in failed["error"]
    assert summary["no_layer_norm/lr=0.001"]["status"] == "ok"
    assert "original/lr=0.001_finetuned holds a finished run of another config" in out.stderr


def test_an_interrupted_run_with_a_changed_config_does_not_resume(tmp_path, capfd, monkeypatch):
    run = tmp_path / "run"
    command = ["ablations.train", *FAST, "trainer.max_steps=40", "logger=none", f"hydra.run.dir={run}"]
    kill_when(command, lambda: (run / "original_finetuned" / "checkpoints" / "step-000003.ckpt").is_file(), cwd=tmp_path)
    checkpoints = artifact_stamps(run / "original_finetuned")

    monkeypatch.chdir(tmp_path)  # refused before training: in this process (runpy), as python -m would run it
    code = run_module(command[0], [*command[1:], "optimizer.lr=1e-3"])
    out, err = capfd.readouterr()
    assert code == 2, err[-3000:]
    assert "holds an interrupted run of another config (optimizer.lr: 0.0045 -> 0.001)" in err
    assert "Restoring states" not in out + err and "Traceback" not in out + err
    assert artifact_stamps(run / "original_finetuned") == checkpoints

    fresh = run_here([*command, "trainer.max_steps=6", "optimizer.lr=1e-3", "overwrite=true"], cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "Restoring states" not in fresh.stdout + fresh.stderr  # started afresh, the old checkpoints discarded
    rows = json.loads((run / "original_finetuned" / "train_metrics.json").read_text())
    assert [r["step"] for r in rows if "train/loss" in r] == [1, 2, 3, 4, 5, 6]


def test_a_run_recorded_before_the_callbacks_group_still_matches(tmp_path):
    """A .run_config.json written before conf/callbacks existed has no callbacks.* key: the default option's
    entries (interpolations of recorded keys) are no difference; a changed callbacks node is one."""
    from lab.runs.identity import RUN_CONFIG_FILE, differences, identity, recorded_identity
    from tests.conftest import compose_train

    cfg = compose_train(["trainer.max_steps=3"])
    old = {k: v for k, v in identity(cfg).items() if not k.startswith("callbacks.")}
    (tmp_path / RUN_CONFIG_FILE).write_text(__import__("json").dumps(old))
    assert differences(*recorded_identity(tmp_path, cfg)) == []
    changed = compose_train(["trainer.max_steps=3", "callbacks.diagnostics=null"])
    assert differences(*recorded_identity(tmp_path, changed))  # not the option earlier runs had: refused


def test_a_run_recorded_before_a_node_was_typed_still_matches(tmp_path):
    """Typing model, data and variant added keys at their defaults (``model.reference: null``,
    ``data.sources.*.streaming: false``): a record without them is no different; the same key at another value is."""
    from lab.runs.identity import RUN_CONFIG_FILE, differences, identity, recorded_identity
    from tests.conftest import compose_train

    cfg = compose_train(["trainer.max_steps=3"])
    added = ("model.reference", "model.reference_overrides", "variant.carry_over", "variant.calibration_rows",
             "data.sources.knowledge.streaming", "data.sources.reasoning.limit")
    assert set(added) <= set(identity(cfg))
    old = {k: v for k, v in identity(cfg).items() if k not in added}
    (tmp_path / RUN_CONFIG_FILE).write_text(__import__("json").dumps(old))
    assert differences(*recorded_identity(tmp_path, cfg)) == []
    changed = compose_train(["trainer.max_steps=3", "data.sources.reasoning.limit=50"])
    assert differences(*recorded_identity(tmp_path, changed)) == ["data.sources.reasoning.limit: '(absent)' -> 50"]


class LossPrinter(L.Callback):
    """Prints the training loss every ``every`` steps: observes, never changes what a run trains."""

    LOGGING_ONLY = True

    def __init__(self, every: int) -> None:
        self.every = every

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every == 0:
            print(f"step {trainer.global_step}: loss {float(outputs['loss']):.4f}")


def test_adding_a_logging_only_callback_keeps_a_recorded_run_resumable(tmp_path):
    """docs/architecture.md's recipe for a callback: one that only logs (Lightning's LearningRateMonitor, or a class of
    ours with ``LOGGING_ONLY = True``) is outside the run's identity, so a folder recorded without it still resumes and
    skips; a callback that can change training (stochastic weight averaging) is a difference."""
    from lab.runs.identity import RUN_CONFIG_FILE, differences, identity, recorded_identity

    cfg = compose_train(["trainer.max_steps=3"])
    (tmp_path / RUN_CONFIG_FILE).write_text(json.dumps(identity(cfg)))
    logged = compose_train(["trainer.max_steps=3", "+callbacks.lr_monitor._target_=lightning.pytorch.callbacks.LearningRateMonitor",
                            "+callbacks.lr_monitor.logging_interval=step"])
    assert differences(*recorded_identity(tmp_path, logged)) == []
    averaged = compose_train(["trainer.max_steps=3", "+callbacks.swa._target_=lightning.pytorch.callbacks.StochasticWeightAveraging",
                              "+callbacks.swa.swa_lrs=0.01"])
    assert differences(*recorded_identity(tmp_path, averaged)) == [
        "callbacks.swa._target_: '(absent)' -> 'lightning.pytorch.callbacks.StochasticWeightAveraging'", "callbacks.swa.swa_lrs: '(absent)' -> 0.01"]
    (tmp_path / RUN_CONFIG_FILE).write_text(json.dumps(identity(logged, resolve=False) | {"callbacks.lr_monitor._target_":
                                                                                            "lightning.pytorch.callbacks.LearningRateMonitor"}))
    assert differences(*recorded_identity(tmp_path, cfg)) == []  # and removing it again changes nothing either
    ours = compose_train(["trainer.max_steps=3", f"+callbacks.loss_printer._target_={__name__}.LossPrinter", "+callbacks.loss_printer.every=2"])
    assert differences(*recorded_identity(tmp_path, ours)) == []  # a class of ours that says LOGGING_ONLY
    assert any(isinstance(c, LossPrinter) for c in instantiate_callbacks(ours.callbacks))  # and a real callback of the run


def test_a_run_recorded_before_the_tokenizer_moved_to_its_corpus_still_matches(tmp_path):
    """``model=tiny`` named ``${asset:tiny_tokenizer}`` until the tokenizer moved to the corpus (``data.tokenizer``,
    which ``model.tokenizer`` now interpolates): a record of then is the same run on ``data=tiny``, and another
    corpus (``data=tiny_text``, its own tokenizer) is a difference."""
    from lab.runs.identity import RUN_CONFIG_FILE, recorded_identity

    cfg = compose_train(["trainer.max_steps=3"])
    assert identity(cfg)["model.tokenizer"] == "${data.tokenizer}"
    old = {k: v for k, v in identity(cfg).items() if k != "data.tokenizer"} | {"model.tokenizer": "${asset:tiny_tokenizer}"}
    (tmp_path / RUN_CONFIG_FILE).write_text(json.dumps(old))
    assert differences(*recorded_identity(tmp_path, cfg)) == []
    other = compose_train(["trainer.max_steps=3", "data=tiny_text"])
    diff = differences(*recorded_identity(tmp_path, other))
    assert "data.tokenizer: '(absent)' -> '${asset:tiny_text/tokenizer}'" in diff and "data.name: 'tiny' -> 'tiny_text'" in diff
