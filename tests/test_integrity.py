"""Integrity and untrusted files: SHA256SUMS in artifact folders, lab.runs.verify, loaders that refuse tampering and pickles."""

import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import ablations
from ablations.train import train
from gates.files import read_lambda_logits, write_gate_files
from lab.config.errors import UserError
from lab.runs.checksums import write_sha256sums
from tests.conftest import FAST, REPO, compose_train, run_module

PACKAGES = ("lab", "ablations", "gates", "vindex")


class Exploit:
    """Unpickling this runs a shell command: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def ablation_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("integrity")
    train(compose_train([*FAST, "logger=none", "trainer.max_steps=2", "eval.accuracy=false"], output_root=root))
    return root


def tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_ablation_folder_carries_valid_sha256sums(ablation_run):
    for folder in ("original", "original_finetuned"):
        sums = (ablation_run / folder / "SHA256SUMS").read_text()
        assert all(name in sums for name in ("model.safetensors", "model.pt", "config.json", "metadata.json"))
        assert ".ckpt" not in sums
        assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=ablation_run / folder).returncode == 0
    assert "train_metrics.json" in (ablation_run / "original_finetuned" / "SHA256SUMS").read_text()


def test_lab_verify_and_the_loaders_name_a_tampered_file(ablation_run, tmp_path, capfd):
    copy = tmp_path / "original_finetuned"
    shutil.copytree(ablation_run / "original_finetuned", copy)
    code = run_module("lab.runs.verify", [str(copy)])  # in this process (runpy), as python -m would run it
    out, _ = capfd.readouterr()
    assert code == 0 and out.startswith(f"ok: {copy}")
    tamper(copy / "model.safetensors")
    code = run_module("lab.runs.verify", [str(copy)])
    _, err = capfd.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "model.safetensors does not match" in errors[0]
    with pytest.raises(UserError, match="model.safetensors does not match its SHA256SUMS entry"):
        ablations.load(copy)


def test_gate_loaders_refuse_a_tampered_file(tmp_path):
    write_gate_files(tmp_path, torch.randn(2, 8))
    write_sha256sums(tmp_path)
    assert read_lambda_logits(tmp_path).shape == (2, 8)
    tamper(tmp_path / "lambda_logits.pt")
    with pytest.raises(UserError, match="lambda_logits.pt does not match"):
        read_lambda_logits(tmp_path)


def test_no_code_path_unpickles_arbitrary_objects():
    """Every torch.load in the packages passes weights_only=True (tests may quote third-party snippets)."""
    offenders = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for match in re.finditer(r"torch\.load\(([^()]|\([^()]*\))*\)", path.read_text()):
                if "weights_only=True" not in match.group(0):
                    offenders.append(f"{path.relative_to(REPO)}: {match.group(0)}")
            assert "pickle.load(" not in path.read_text(), path
    assert offenders == []


def test_a_malicious_pickle_is_refused_and_never_runs(ablation_run, tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "original"
    shutil.copytree(ablation_run / "original", folder)
    (folder / "model.safetensors").unlink()
    (folder / "SHA256SUMS").unlink()  # a downloaded folder without our sums: only weights_only protects it
    with open(folder / "model.pt", "wb") as f:
        pickle.dump({"model.embed_tokens.weight": Exploit(marker)}, f)
    with pytest.raises(UserError, match="model.pt is not a plain tensor state dict; refusing to unpickle"):
        ablations.load(folder)
    gates = tmp_path / "gates"
    gates.mkdir()
    torch.save({"module.model.layers.0.mlp.lambda_logits": Exploit(marker)}, gates / "lambda_logits.pt")
    with pytest.raises(UserError, match="lambda_logits.pt is not a loadable tensor state dict"):
        read_lambda_logits(gates)
    assert not marker.exists()


def test_a_malicious_or_missing_resume_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "last.ckpt"
    with open(bad, "wb") as f:
        pickle.dump({"state_dict": {}, "epoch": Exploit(marker)}, f)
    root = tmp_path / "run"
    with pytest.raises(UserError, match="last.ckpt is not a plain checkpoint; refusing to unpickle"):
        train(compose_train([*FAST, "logger=none", f"ckpt_path={bad}"], output_root=root))
    assert not marker.exists()
    with pytest.raises(UserError, match="ckpt_path=/no/such.ckpt is not a file"):
        train(compose_train([*FAST, "logger=none", "ckpt_path=/no/such.ckpt"], output_root=tmp_path / "run2"))
