"""A non-editable install carries its configs: built as a wheel, installed into a folder of its own, and run from
another directory, ``python -m ablations.train`` composes from the installed ``lab/config/conf`` and writes ``./runs``."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, child_env

pytestmark = pytest.mark.scale


def test_an_installed_wheel_trains_from_another_directory(tmp_path):
    source, wheels, target, work = tmp_path / "source", tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", ".*_cache"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("qwen3_internals-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300)
    assert (target / "lab" / "config" / "conf" / "train.yaml").is_file() and not (target / "lab" / "config" / "conf").is_symlink()

    # the installed copy comes first on the path: it, not this checkout, is what runs
    env = child_env({"PYTHONPATH": str(target)})
    where = subprocess.run([sys.executable, "-c", "import lab; print(lab.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(target))
    out = subprocess.run([sys.executable, "-m", "ablations.train", "trainer.max_steps=2", "trainer.val_check_interval=2", "optimizer.warmup_steps=2",
                          "data.eval_limit=2", "logger=csv", "trainer.enable_progress_bar=false"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (finished,) = (work / "runs" / "ablations").glob("*/original_finetuned/model.safetensors")
    assert finished.is_file()
