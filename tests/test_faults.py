"""Faults of the machine (issue 41): a full disk, a damaged checkpoint, an unwritable output folder. Each is one
``error:``/``warning:`` line and exit code 2, nothing written before it is lost, and the rerun recovers.

The full disk and the read-only folder are real file systems the test mounts (a tmpfs, a read-only bind mount);
where mounting is not permitted (not root) those tests say so and skip.
"""

import contextlib
import errno
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ablations.study.publish import check_publishable
from ablations.train import train
from lab.config.errors import DiskFull, UserError
from lab.config.faults import fault_message, human_bytes
from lab.plan.preflight import disk_shortfall
from lab.runs.artifacts import atomic_write
from lab.runs.checkpoint_check import check_given_checkpoint, damage, latest_intact_checkpoint, sidecar
from lab.runs.checkpoint_io import AtomicCheckpointIO
from lab.runs.reference import tiny_reference_dir
from tests.conftest import compose_train, kill_when, rerun_after_damaging_checkpoints, run_cli, run_here

SHORT = ["trainer.max_steps=8", "trainer.val_check_interval=4", "data.eval_limit=4", "data.batch_size=4", "checkpoint_every_n_steps=4",
         "trainer.enable_progress_bar=false", "optimizer.warmup_steps=2", "trainer.limit_val_batches=2", "variant=no_qk_norm",
         "logger=none"]


class Exploit:
    """Unpickling it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@contextlib.contextmanager
def mounted(where: Path, *options: str, source: str = "tmpfs"):
    """``mount [options] source where`` for the block (unmounted after, lazily); skips the test where mounting is refused."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *options, source, str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not let the tests mount a file system ({done.stderr.strip()}); the fault is untested here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_fault_anywhere_in_the_chain_is_one_line_naming_the_file():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/scratch/run/model.pt")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")  # noqa: B904 (as torch: context only)
    except RuntimeError as err:
        wrapped = err
    assert fault_message(wrapped).startswith("disk full writing /scratch/run/model.pt (")
    assert "rerun the same command" in fault_message(wrapped)
    safetensors_like = Exception("Error while serializing: I/O error: No space left on device (os error 28)")
    assert fault_message(safetensors_like).startswith("disk full writing a file")
    read_only = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/run")
    assert fault_message(read_only).startswith("cannot use /mnt/ro/run: a read-only file system;")
    assert fault_message(ValueError("a bug")) is None and fault_message(OSError(errno.ENOENT, "No such file")) is None


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    with mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=1m") as small:
        with pytest.raises(DiskFull, match=r"disk full writing .*big\.pt \(.* free on its file system, more than .* needed\)"):
            atomic_write(small / "big.pt", lambda tmp: torch.save({"w": torch.zeros(1 << 19)}, tmp))  # 2 MB, torch given a path
        io = AtomicCheckpointIO()
        io.save_checkpoint({"w": torch.zeros(1 << 16)}, small / "step-000001.ckpt")  # 256 kB: fits, with its sidecar
        previous = human_bytes((small / "step-000001.ckpt").stat().st_size)
        with pytest.raises(DiskFull, match=rf"step-000002\.ckpt .*, about {previous} needed\)"):  # the previous one's size
            io.save_checkpoint({"w": torch.zeros(1 << 18)}, small / "step-000002.ckpt")
        assert sorted(p.name for p in small.iterdir()) == ["step-000001.ckpt", "step-000001.ckpt.sha256"]  # no temp file left


def test_the_main_job_on_a_full_disk_stops_in_one_line_and_resumes_bit_equal_once_space_is_freed(tmp_path):
    """The base stage (8 MB) and step 4's checkpoint (12 MB) fit in 30 MB, its last.ckpt does not: exit 2 and one
    line; after the disk grows, the same command resumes from step 4 and ends as an uninterrupted run."""
    reference = tmp_path / "reference"
    train(compose_train(SHORT, output_root=reference))
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=30m") as disk:
        command = ["ablations.train", *SHORT, f"hydra.run.dir={disk / 'run'}"]
        full = run_here(command, cwd=tmp_path)
        assert full.returncode == 2
        errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in full.stderr, full.stderr[-3000:]
        assert errors[0].startswith(f"error: disk full writing {disk}/run/no_qk_norm_finetuned/checkpoints/last.ckpt (")
        assert "about 12.1 MB needed" in errors[0] and "rerun the same command" in errors[0]
        assert "warning: the job needs about" in full.stderr  # the preflight said so before it started
        checkpoints = disk / "run" / "no_qk_norm_finetuned" / "checkpoints"
        assert sorted(p.name for p in checkpoints.iterdir()) == ["step-000004.ckpt", "step-000004.ckpt.sha256"]

        subprocess.run(["mount", "-o", "remount,size=200m", str(disk)], check=True)
        again = run_here(command, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert f"Restoring states from the checkpoint path at {checkpoints / 'step-000004.ckpt'}" in again.stdout + again.stderr
        ours, theirs = (load_file(d / "no_qk_norm_finetuned" / "model.safetensors") for d in (disk / "run", reference))
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_a_vindex_build_on_a_full_disk_is_one_line_leaves_no_partial_index_and_builds_once_space_is_freed(quick_reference, tmp_path,
                                                                                                          monkeypatch):
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=200k") as disk:
        done = run_here(["vindex.build", f"paths.runs={quick_reference}", f"out={disk / 'vx'}"], cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith(f"error: disk full writing {disk / 'vx'} (")
        assert list(disk.iterdir()) == []  # the partial index folder is gone
        monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # for debugging: the traceback too, then the same line
        debug = run_here(["vindex.build", f"paths.runs={quick_reference}", f"out={disk / 'vx'}"], cwd=tmp_path)
        assert debug.returncode == 2 and "Traceback" in debug.stderr and "error: disk full writing" in debug.stderr
        monkeypatch.delenv("HYDRA_FULL_ERROR")
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        again = run_here(["vindex.build", f"paths.runs={quick_reference}", f"out={disk / 'vx'}"], cwd=tmp_path)  # the same command
        assert again.returncode == 0, again.stderr[-3000:]
        assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=disk / "vx").returncode == 0
        assert sorted(p.name for p in disk.iterdir()) == ["vx"]  # no temporary folder left beside it


@pytest.mark.long
def test_the_vindex_pipeline_on_a_full_disk_after_its_build_is_one_line_and_its_rerun_completes_the_folder(quick_reference, tmp_path):
    """vindex.pipeline on a file system the built index fits but its constants' card does not (888 kB for the quick
    reference's vindex): one line naming the file, exit 2; after the disk grows the same command reuses the intact
    build, writes the constants and Gate 3, and the folder checks against its SHA256SUMS."""
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=888k") as disk:
        command = ["vindex.pipeline", f"paths.runs={quick_reference}", f"out={disk / 'vx'}"]
        full = run_here(command, cwd=tmp_path)
        assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-3000:]
        assert full.stderr.strip().splitlines()[-1].startswith(f"error: disk full writing {disk / 'vx'}/")
        assert (disk / "vx" / "index.json").is_file() and not (disk / "vx" / "gate3.json").exists()  # the build was kept
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        again = run_here(command, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert (disk / "vx" / "constants.json").is_file() and (disk / "vx" / "gate3.json").is_file()
        assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=disk / "vx").returncode == 0


def test_the_preflight_refuses_a_job_that_cannot_fit_when_asked(tmp_path):
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=4m") as disk:
        assert disk_shortfall(10**6, disk) is None and disk_shortfall(10**8, disk)[0] == 10**8
        refused = run_here(["ablations.train", *SHORT, "preflight.disk=error", f"hydra.run.dir={disk / 'run'}"], cwd=tmp_path)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        line = next(line for line in refused.stderr.splitlines() if line.startswith("error:"))
        assert "more disk at its peak (its 3 step checkpoints are kept" in line and f"{disk / 'run'} has 4.2 MB free" in line and "checkpoint_every_n_steps" in line
        assert not (disk / "run" / "no_qk_norm").exists()  # refused before the base stage was written


def test_an_unwritable_output_folder_is_one_line_before_anything_runs(tmp_path):
    (tmp_path / "source").mkdir()
    with mounted(tmp_path / "ro", "--bind", source=str(tmp_path / "source")) as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        done = run_here(["ablations.train", *SHORT, f"hydra.run.dir={ro / 'run'}"], cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1] == (f"error: cannot use {ro / 'run'}: a read-only file system; for outputs "
                                                         "choose a writable location (paths.runs=... or hydra.run.dir=...), "
                                                         "else fix the permissions")
    (tmp_path / "a_file").write_text("")
    done = run_here(["gates.train", f"hydra.run.dir={tmp_path / 'a_file' / 'run'}"], cwd=tmp_path)
    assert done.returncode == 2 and "a path through a file, not a folder" in done.stderr.strip().splitlines()[-1]


def test_a_damaged_checkpoint_is_set_aside_and_the_newest_intact_one_is_used(tmp_path):
    io, folder = AtomicCheckpointIO(), tmp_path / "checkpoints"
    for step in (2, 4):
        io.save_checkpoint({"step": step, "w": torch.full((64,), float(step))}, folder / f"step-{step:06d}.ckpt")
        io.save_checkpoint({"step": step, "w": torch.full((64,), float(step))}, folder / "last.ckpt")
    newest = folder / "step-000004.ckpt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped: torch would load it, its SHA-256 does not match
    newest.write_bytes(bytes(data))
    (folder / "last.ckpt").write_bytes((folder / "last.ckpt").read_bytes()[:100])  # truncated, as a partial copy leaves it
    assert damage(newest) == "its SHA-256 differs from step-000004.ckpt.sha256"
    with pytest.raises(UserError, match=r"ckpt_path=.*step-000004\.ckpt is damaged: its SHA-256 differs"):  # given, never moved
        check_given_checkpoint(str(newest))
    assert latest_intact_checkpoint(folder) == folder / "step-000002.ckpt"
    assert sorted(p.name for p in folder.iterdir()) == [
        "last.ckpt.damaged", "last.ckpt.damaged.sha256", "step-000002.ckpt", "step-000002.ckpt.sha256",
        "step-000004.ckpt.damaged", "step-000004.ckpt.damaged.sha256"]
    planted, marker = folder / "step-000006.ckpt", tmp_path / "pwned"  # a pickle that would run code: never unpickled
    planted.write_bytes(pickle.dumps({"state_dict": {}, "epoch": Exploit(marker)}))
    assert latest_intact_checkpoint(folder) == folder / "step-000002.ckpt" and not marker.exists()
    assert (folder / "step-000006.ckpt.damaged").is_file()
    legacy = folder / "step-000002.ckpt"  # written before sidecars: checked by loading it
    sidecar(legacy).unlink()
    assert damage(legacy) is None
    legacy.write_bytes(legacy.read_bytes()[:-200])
    assert damage(legacy).startswith("it has no step-000002.ckpt.sha256 and does not load (")


@pytest.mark.slow
def test_a_killed_main_job_with_damaged_checkpoints_resumes_bit_equal_from_the_newest_intact_one(tmp_path):
    """ablations.train killed after its second step checkpoint; the newest step file then gets a flipped bit and
    ``last.ckpt`` is truncated: the rerun sets both aside (one warning each, the files kept), resumes from the next
    older step file and ends with the weights of an uninterrupted run."""
    args = [*SHORT, "trainer.max_steps=16"]
    reference, run = tmp_path / "reference", tmp_path / "run"
    train(compose_train(args, output_root=reference))
    command = ["ablations.train", *args, f"hydra.run.dir={run}"]
    checkpoints = run / "no_qk_norm_finetuned" / "checkpoints"
    kill_when(command, lambda: (checkpoints / "step-000008.ckpt.sha256").is_file(), cwd=tmp_path)
    assert not (run / "no_qk_norm_finetuned" / "model.safetensors").exists(), "the run finished before the kill"
    rerun_after_damaging_checkpoints(command, checkpoints, cwd=tmp_path)
    ours, theirs = (load_file(d / "no_qk_norm_finetuned" / "model.safetensors") for d in (run, reference))
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


@pytest.mark.slow
def test_every_tool_refuses_an_unwritable_output_location_in_one_line_before_its_work(quick_gate_run, tmp_path):
    """gates.apply, gates.evaluate and vindex.build with their output under a file, lm-eval on a run folder mounted
    read-only: one line naming the folder, the cause and the key to change, exit 2 (gates.evaluate before its
    progress bar over the gate settings starts, where it would otherwise fail after evaluating them all)."""
    runs = quick_gate_run.parents[1]
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    cases = [
        (["gates.apply", f"gates_dir={quick_gate_run}", f"out={blocked / 'applied'}"], blocked, "a path through a file, not a folder", "out=..."),
        (["gates.evaluate", f"gates_dir={quick_gate_run}", f"out={blocked / 'evaluation'}"], blocked / "evaluation",
         "a path through a file, not a folder", "out=..."),
        (["vindex.build", f"out={blocked / 'vindex'}"], blocked, "a path through a file, not a folder", "out=... or paths.runs=..."),
    ]
    for command, folder, cause, setting in cases:
        done = run_here([*command, f"paths.runs={runs}"], cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
        assert done.stderr.strip().splitlines()[-1] == (f"error: cannot use {folder}: {cause}; for outputs choose a writable "
                                                         f"location ({setting}), else fix the permissions")
        assert "gate settings" not in done.stderr
    run = tmp_path / "source"
    shutil.copytree(tiny_reference_dir(runs), run)
    with mounted(tmp_path / "ro", "--bind", source=str(run)) as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        done = run_here(["lab.evaluate.lm_eval", str(ro), "tasks=[tiny_facts]", "limit=2"], cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
        assert done.stderr.strip().splitlines()[-1].startswith(f"error: cannot use {ro}: a read-only file system; ")


@pytest.mark.slow
def test_the_readers_of_a_run_refuse_an_unwritable_output_in_one_line_before_their_work(quick_gate_run, tmp_path):
    """vindex.constants and vindex.gate3 (the vindex they write into, Gate 3's edited model), ablations.study (its
    --out, and a read-only checkout it would publish into) and lab.publish (where it stages the upload): one line naming
    the folder, the cause and the key to change, exit 2, before a model loads, a run is read or the Hub is asked."""
    runs = quick_gate_run.parents[1]
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    cases = [
        (["vindex.constants", f"out={blocked / 'vindex'}"], blocked / "vindex", "out=... or paths.runs=..."),
        (["vindex.gate3", f"gate3.save={blocked / 'edited'}"], blocked / "edited", "gate3.save=..."),
    ]
    for command, folder, setting in cases:
        done = run_here([*command, f"paths.runs={runs}"], cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
        assert done.stderr.strip().splitlines()[-1] == (f"error: cannot use {folder}: a path through a file, not a folder; for "
                                                         f"outputs choose a writable location ({setting}), else fix the permissions")
    assert not (runs / "vindex").exists()  # refused before the vindex was built
    done = run_here(["ablations.study", str(tmp_path), "--out", str(blocked / "report")], cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(f"error: cannot use {blocked / 'report'}: a path through a file")
    with pytest.raises(UserError, match=rf"cannot use {blocked / 'results'}: .*\(a writable checkout of the repository\)"):
        check_publishable(blocked / "results", tmp_path / "figures", (tmp_path / "README.md",))
    source = tmp_path / "shared"
    shutil.copytree(quick_gate_run, source / quick_gate_run.name)
    with mounted(tmp_path / "ro", "--bind", source=str(source)) as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        done = run_here(["lab.publish", f"folder={ro / quick_gate_run.name}", "repo_id=me/gates"], cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == (
            f"error: cannot use {ro}: a read-only file system; for outputs choose a writable location (staging_dir=...), "
            "else fix the permissions")
        staged = run_here(["lab.publish", f"folder={ro / quick_gate_run.name}", "repo_id=me/gates", f"staging_dir={tmp_path / 'stage'}"],
                          cwd=tmp_path)  # the staging check passes; the offline Hub is the next line
        assert staged.returncode == 2 and staged.stderr.strip().splitlines()[-1].startswith("error: HF_HUB_OFFLINE is set: nothing was uploaded")


@pytest.mark.long
def test_a_study_on_a_full_disk_fails_in_one_line_per_job_without_a_traceback_and_its_rerun_finishes(tmp_path):
    """Two jobs of make study STUDY=horizon under Hydra's joblib launcher on a 3 MB file system: each stops with
    its disk-full line; neither can record its failure in the study's summary (the disk is full), so each job
    fails in Hydra's eyes, told as its message alone, and the sweep exits non-zero (once it exited 0, the
    failures unrecorded, behind "--- Logging error ---" tracebacks of the job logs). After the disk grows, the same
    command finishes both jobs and writes the study's report."""
    command = ["ablations.train", "experiment=text_study", "variant=original,no_qk_norm", "optimizer.lr=1e-2", "seed=0",
               "trainer.max_steps=4", "data.sources.text.limit=500", "trainer.limit_val_batches=2", "eval.final_loss_evaluations=1"]
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=3m") as disk:
        full = run_cli([*command, f"paths.runs={disk / 'runs'}"], cwd=tmp_path)
        assert full.returncode == 1 and "Traceback" not in full.stderr and "Logging error" not in full.stderr, full.stderr[-3000:]
        study = disk / "runs" / "ablations" / "studies" / "horizon"
        errors = [line for line in full.stderr.splitlines() if line.startswith("error: disk full writing")]
        assert {line.split("horizon/")[1].split("/")[0] for line in errors} == {"original", "no_qk_norm"}  # each job said it
        assert "Error executing job with overrides" in full.stderr
        subprocess.run(["mount", "-o", "remount,size=200m", str(disk)], check=True)
        again = run_cli([*command, f"paths.runs={disk / 'runs'}"], cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        entries = json.loads((study / "all_train_metrics.json").read_text())
        assert sorted(entries) == ["no_qk_norm/lr=0.01,max_steps=4,seed=0", "original/lr=0.01,max_steps=4,seed=0"]
        assert {e["status"] for e in entries.values()} == {"ok"} and (study / "report" / "study.json").is_file()


@pytest.mark.long
def test_the_localisation_benchmark_on_a_full_disk_stops_in_one_line_naming_its_gate_run(quick_reference, tmp_path):
    """gates.localise with its out= on a 300 kB file system: the gate run it starts fills the disk; the benchmark
    stops with one line naming the gate run, the file, and its whole log, exit 2, no traceback. (Its rerun resumes
    the gate run, as the gate run's own full-disk test shows, and skips the seeds already written.)"""
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=300k") as disk:
        done = run_here(["gates.localise", "seeds=[0]", "workers=1", "random_draws=1", "budgets=[]", "relearn.steps=[0,1]",
                         "relearn.contrast_step=1", f"paths.runs={quick_reference}", f"out={disk / 'bench'}",
                         "train=['trainer.max_steps=3','data.batch_size=4','data.eval_limit=60']"], cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
        line = done.stderr.strip().splitlines()[-1]
        assert line.startswith("error: gates.train seed=0 failed (exit 2): disk full writing " + str(disk / "bench" / "seed0")), line
        assert "rerun the same command" in line and line.endswith(".log") and not (disk / "bench" / "seed0.json").exists()


@pytest.mark.long
def test_a_ddp_run_on_a_full_disk_stops_both_ranks_in_one_line_and_its_rerun_finishes(tmp_path):
    """Two gloo ranks on a 9 MB file system: the base stage fits, the first step checkpoint does not. Rank 0 stops
    with the disk-full line, exit 2; rank 1 does not wait in a collective for its timeout (the command ends within
    the test's timeout, no rank left running). After the disk grows, the same command trains both ranks to the end."""
    from tests.test_resume_epochs import DDP_ARGS

    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=9m") as disk:
        command = ["ablations.train", *DDP_ARGS, f"hydra.run.dir={disk / 'run'}"]
        full = run_cli(command, cwd=tmp_path, timeout=300)
        assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-3000:]
        assert full.stderr.strip().splitlines()[-1].startswith(f"error: disk full writing {disk / 'run' / 'original_finetuned' / 'checkpoints'}/")
        left = subprocess.run(["pgrep", "-f", str(disk / "run")], capture_output=True, text=True).stdout.split()
        assert left == [], f"rank processes left running: {left}"
        subprocess.run(["mount", "-o", "remount,size=300m", str(disk)], check=True)
        again = run_cli(command, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert json.loads((disk / "run" / "original_finetuned" / "metadata.json").read_text())["result"]["world_size"] == 2


@pytest.mark.slow
def test_a_gate_run_on_a_full_disk_stops_in_one_line_and_reruns_into_an_uninterrupted_runs_gates(quick_reference, tmp_path):
    """gates.train on a 120 kB file system: exit 2 and one line naming the file, no temporary file left; after the
    disk grows, the same command ends with the lambda gates of an uninterrupted run."""
    args = ["trainer.max_steps=12", "checkpoint_every_n_steps=3", "trainer.enable_progress_bar=false", "data.batch_size=2",
            "logger=csv", f"paths.runs={quick_reference}"]
    reference = tmp_path / "reference"
    assert run_here(["gates.train", *args, f"hydra.run.dir={reference}"], cwd=tmp_path).returncode == 0
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=120k") as disk:
        command = ["gates.train", *args, f"hydra.run.dir={disk / 'run'}"]
        full = run_here(command, cwd=tmp_path)
        errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
        assert full.returncode == 2 and len(errors) == 1 and "Traceback" not in full.stderr, full.stderr[-3000:]
        assert errors[0].startswith(f"error: disk full writing {disk / 'run'}/") and "rerun the same command" in errors[0]
        assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]  # no partial file
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        again = run_here(command, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        ours, theirs = (torch.load(d / "lambda_logits.pt", weights_only=True) for d in (disk / "run", reference))
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
