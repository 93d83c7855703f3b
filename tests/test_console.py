"""What a user sees: a run ends with its summary block and no third-party noise; every command answers --help."""

import importlib

import pytest

from tests.conftest import FAST, run_cli, run_module

NOISE = ["litlogger", "LeafSpec", "anonymous setting", "limit_val_batches=1.0", "/-2", "in eval mode at the start of training",
         "Traceback", "srun` command is available"]  # the last: wherever SLURM is installed (make test-scale installs it)


@pytest.mark.slow
def test_a_default_run_ends_with_its_summary_and_prints_no_known_noise(tmp_path):
    args = [a for a in FAST if a != "trainer.enable_progress_bar=false"]  # the progress bar as users see it
    out = run_cli(["ablations.train", *args, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert [n for n in NOISE if n in text] == []
    block = out.stdout[out.stdout.index("── ablations.train original: ok in "):]
    finetuned = tmp_path / "run" / "original_finetuned"
    assert "train loss " in block and "val loss " in block and "fact recall " in block
    assert f"output  {finetuned}" in block and f'load    ablations.load("{finetuned}")' in block
    assert f"look    make report RUN={tmp_path / 'run'}" in block and "wandb sync " in block


@pytest.mark.parametrize("module", ["lab.plan", "lab.report", "lab.runs.verify", "ablations.study", "benchmarks", "benchmarks.trainer",
                                    "benchmarks.gate_step", "benchmarks.scaling", "benchmarks.svd", "benchmarks.vindex_build",
                                    "ablations.dyt_check"])
def test_every_command_answers_help(module, capsys):
    main = importlib.import_module(f"{module}.__main__" if module in ("lab.report", "benchmarks", "ablations.study") else module).main
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m {module}")


@pytest.mark.slow
def test_hydra_commands_answer_help(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = run_module("ablations.train", ["--help"])  # in this process (runpy), as python -m would run it
    out, _ = capfd.readouterr()
    assert code == 0 and "== Configuration groups ==" in out and "variant: " in out
