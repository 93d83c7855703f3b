"""Registered claims (lab.claims, benchmarks.confirm): a file checked before anything runs, a run only from a committed
file, publishing refused once it changed, the power rule, Holm's verdicts, and a confirmatory run end to end."""

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from benchmarks.confirm import CLAIMS, RESULTS, blocks, confirm, overall, prepare, restate
from lab.claims.power import seeds_needed
from lab.claims.registration import check_unchanged, register
from lab.claims.schema import Power, load_claim_file
from lab.claims.verdict import verdicts
from lab.config.errors import UserError
from lab.runs.artifacts import read_json
from tests.conftest import run_module

FEW = ["trainer.max_steps=6", "trainer.val_check_interval=6", "optimizer.warmup_steps=2", "data.eval_limit=4", "trainer.limit_val_batches=2",
       "hydra/launcher=basic", "logger=none", "model=tiny"]


def claim(cid: str = "c", test: str = "welch", direction: str = "greater", a=("scratch/no_qk_norm", "lr_sensitivity"),
          b=("scratch/original", "lr_sensitivity")) -> dict:
    return {"id": cid, "statement": f"claim {cid}", "test": test, "direction": direction,
            "a": {"cell": a[0], "metric": a[1]}, "b": {"cell": b[0], "metric": b[1]}}


def norm_file(**changes) -> dict:
    base = {"name": "norm", "tool": "ablations", "exploratory": ["docs/results/norm_study/default/study.json"],
            "seed_pool": [100, 101, 102], "power": {"target": 0.8, "min_seeds": 2, "max_seeds": 2},
            "run": {"lrs": [1e-3, 3e-1], "overrides": ["experiment=norm_study", "study=default", *FEW]}, "claims": [claim()]}
    return base | changes


def write(folder: Path, content: dict, commit: bool = True) -> Path:
    path = folder / f"{content['name']}.yaml"
    path.write_text(yaml.safe_dump(content))
    if commit:
        if not (folder / ".git").is_dir():
            subprocess.run(["git", "init", "-q", str(folder)], check=True)
        subprocess.run(["git", "-C", str(folder), "add", path.name], check=True)
        subprocess.run(["git", "-C", str(folder), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "register"], check=True)
    return path


@pytest.mark.parametrize("change, message", [
    ({"claims": [claim(a=("scratch/no_qk_nrom", "lr_sensitivity"))]}, "unknown cell 'scratch/no_qk_nrom'"),
    ({"claims": [claim(a=("scratch/no_qk_norm", "lr_sensitivty"))]}, "unknown metric 'lr_sensitivty'"),
    ({"claims": [claim(a=("scratch/no_qk_norm", "clipped_loss@0.05"))]}, "unknown metric 'clipped_loss@0.05'"),
    ({"claims": [claim(test="mann-whitney")]}, "test 'mann-whitney' is not one of welch, paired"),
    ({"claims": [claim(direction="up")]}, "direction 'up' is not one of greater, less"),
    ({"power": {"target": 0.8, "min_seeds": 1, "max_seeds": 2}}, "a claim needs at least 2 seeds"),
    ({"seed_pool": [0, 100, 101]}, "reuses exploratory seeds [0]"),
    ({"claims": [claim(), claim()]}, "claim ids repeat: c"),
    ({"metric": "x"}, "Key 'metric' not in 'ClaimFile'"),
])
def test_a_bad_claim_file_is_one_line_and_exit_2_before_anything_runs(tmp_path, change, message, capfd):
    path = write(tmp_path, norm_file(**change), commit=False)
    assert run_module("benchmarks.confirm", ["--claims", str(path), "--plan"]) == 2
    err = capfd.readouterr().err
    assert message in err and err.count("error:") == 1 and "Traceback" not in err


def test_the_gates_runner_knows_its_cells_and_metrics(tmp_path):
    content = {"name": "localise", "tool": "gates", "exploratory": ["docs/results/localise/benchmark.json"], "seed_pool": [100, 101, 102],
               "power": {"target": 0.8, "min_seeds": 2, "max_seeds": 3},
               "run": {"methods": ["gates", "random"], "modes": ["hard"], "relearn": {"attacks": ["held_out"]}},
               "claims": [claim(test="paired", a=("gates/hard", "held_out_recall"), b=("trained_random/hard", "held_out_recall"))]}
    with pytest.raises(UserError, match="unknown cell 'trained_random/hard'"):
        prepare(write(tmp_path, content, commit=False))
    content["claims"] = [claim(test="paired", a=("gates/hard", "relearn/other_facts/50"), b=("gates/hard", "relearn/held_out/50"))]
    with pytest.raises(UserError, match="unknown metric 'relearn/other_facts/50'"):
        prepare(write(tmp_path, content, commit=False))
    content["run"]["colour"] = "red"
    with pytest.raises(UserError, match="run has keys gates.localise.benchmark does not take: colour"):
        prepare(write(tmp_path, content, commit=False))


def test_the_registered_claim_files_are_valid_and_use_fresh_seeds():
    for path in sorted(CLAIMS.glob("*.yaml")):
        cf, _, power, seeds = prepare(path)
        assert all(2 <= len(s) <= cf.power.max_seeds for s in seeds.values()) and set(power) == {c.id for c in cf.claims}


def test_a_run_needs_a_committed_unchanged_file_and_publishing_refuses_a_changed_one(tmp_path):
    path = write(tmp_path, norm_file(), commit=False)
    with pytest.raises(UserError, match="is not in a git repository"):
        register(path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(UserError, match="has uncommitted changes"):
        register(path)
    path = write(tmp_path, norm_file())
    registration = register(path)
    assert len(registration["commit"]) == 40 and registration["sha256"] and registration["code_commit"] == registration["commit"]
    assert registration["code_dirty"] is False
    check_unchanged(path, registration)
    path.write_text(path.read_text().replace("0.8", "0.9"))
    with pytest.raises(UserError, match="changed after the confirmatory run started"):
        check_unchanged(path, registration)
    with pytest.raises(UserError, match="has uncommitted changes"):
        register(path)


def test_the_power_rule_picks_the_fewest_seeds_that_reach_the_target():
    rule = Power(target=0.8, min_seeds=2, max_seeds=10)
    a, b = [1.0, 1.2, 0.8], [0.0, 0.1, -0.1]  # effect 1, sds 0.2 and 0.1
    big = seeds_needed(a, b, False, "greater", rule, 0.05)
    small = seeds_needed([0.3, 0.5, 0.1], b, False, "greater", rule, 0.05)
    assert big["n"] < small["n"] and big["power"] >= 0.8 and small["exploratory"]["effect"] == pytest.approx(0.3)
    wrong = seeds_needed(a, b, False, "less", rule, 0.05)  # the exploratory effect has the other sign
    assert wrong["n"] == 10 and wrong["power"] < 0.05
    flat = seeds_needed([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], False, "greater", rule, 0.05)  # no spread: no t test can confirm it
    assert flat["n"] == 10 and flat["power"] == 0.0
    assert seeds_needed(a, b, True, "greater", rule, 0.05)["exploratory"]["sd_difference"] == pytest.approx(0.1)


def test_verdicts_are_one_sided_and_holm_corrected_across_the_file(tmp_path):
    cf = load_claim_file(write(tmp_path, norm_file(claims=[claim("up"), claim("down", direction="less"), claim("weak")]), commit=False))
    rows = verdicts(cf, {"up": ([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]), "down": ([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]),
                         "weak": ([1.0, 1.5, 0.8], [0.9, 1.4, 1.0])})
    up, down, weak = rows
    assert up["confirmed"] and not down["confirmed"] and not weak["confirmed"]
    assert up["result"]["p_one_sided"] == pytest.approx(up["result"]["p"] / 2) and down["result"]["p_one_sided"] > 0.99
    assert up["p_holm"] == pytest.approx(3 * up["result"]["p_one_sided"])
    flat = verdicts(cf, {"up": ([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]), "down": ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]),
                         "weak": ([1.0, 1.5, 0.8], [0.9, 1.4, 1.0])})
    assert flat[1]["result"]["p_one_sided"] is None and not flat[1]["confirmed"]  # zero spread: no test, never confirmed
    assert flat[0]["p_holm"] == pytest.approx(3 * flat[0]["result"]["p_one_sided"])  # and it still counts in the family


def test_the_paired_sensitivity_pairs_every_claim_by_seed(tmp_path):
    from lab.claims.verdict import paired_sensitivity

    cf = load_claim_file(write(tmp_path, norm_file(claims=[claim("shift"), claim("noisy")]), commit=False))
    rows = verdicts(cf, {"shift": ([1.1, 2.1, 3.1, 4.2], [1.0, 2.0, 3.0, 4.0]), "noisy": ([2.0, 2.5, 1.5, 2.2], [1.0, 1.2, 1.1, 0.9])})
    assert not rows[0]["confirmed"]  # Welch: the seeds' spread hides the shift
    paired = {row["id"]: row for row in paired_sensitivity(rows, cf.alpha)}
    assert paired["shift"]["confirmed"] and paired["shift"]["p_one_sided"] < rows[0]["result"]["p_one_sided"]


def test_only_the_cells_and_learning_rates_the_claims_need_are_run(tmp_path):
    """A cell runs the whole registered grid when a claim needs its S, only the LR a ``clipped_loss@<lr>`` claim names
    otherwise, on the first n seeds of the pool (n the largest of its claims'); one multirun per (regime, LRs, seeds)."""
    from ablations.confirm import jobs

    cf = load_claim_file(write(tmp_path, norm_file(claims=[
        claim("qk"), claim("l2", a=("surgery/replace_l2norm", "clipped_loss@0.3"), b=("surgery/original", "clipped_loss@0.3"))]), commit=False))
    assert jobs(cf, {"qk": [100, 101], "l2": [100, 101, 102]}) == {
        ("scratch", (1e-3, 0.3), (100, 101)): ["no_qk_norm", "original"],
        ("surgery", (0.3,), (100, 101, 102)): ["original", "replace_l2norm"]}


@pytest.mark.slow
@pytest.mark.long
def test_a_confirmatory_run_end_to_end_resumes_and_publishes_what_it_registered(tmp_path, monkeypatch):
    """Two fresh seeds of two cells at the one LR the claims name (6 steps a run): the run records its registration,
    each claim's per-seed values and verdict; a rerun resumes; its blocks restate from the JSON; a changed claim file
    cannot be published."""
    import benchmarks.confirm as confirm_module

    runs = tmp_path / "runs"
    at = ("scratch/no_qk_norm", "clipped_loss@0.3"), ("scratch/original", "clipped_loss@0.3")
    content = norm_file(claims=[claim("qk", a=at[0], b=at[1]), claim("best", a=at[1], b=at[0])])
    content["run"]["overrides"] += [f"paths.runs={runs}", "~hydra.callbacks.sweep_report"]  # no figures and W&B run per sweep
    path = write(tmp_path, content)
    result = confirm(path, tmp_path / "out")
    assert result["seeds"] == {"qk": [100, 101], "best": [100, 101]} and result["registration"]["sha256"] == register(path)["sha256"]
    rows = {row["id"]: row for row in result["verdicts"]}
    assert len(rows["qk"]["a"]["values"]) == 2 and rows["best"]["result"]["method"] == "welch" and "p_holm" in rows["qk"]
    entries = read_json(tmp_path / "out" / "norm" / "scratch" / "all_train_metrics.json")
    assert sorted((e["variant"], e["lr"], e["seed"]) for e in entries.values()) == [
        (v, 0.3, seed) for v in ("no_qk_norm", "original") for seed in (100, 101)]  # the grid's other LR: no claim needs it
    again = confirm(path, tmp_path / "out")  # resumes: nothing trains again, the verdicts are the same
    assert len(again["wall_times_s"]) == 2 and again["verdicts"] == result["verdicts"]
    assert restate(copy.deepcopy(again)) == again["verdicts"]
    text = blocks(again)
    assert "| qk: claim qk |" in text["table"] and ("**confirmed**" in text["readme"] or "**not confirmed**" in text["readme"])
    assert "paired by seed (not registered)" in text["table"] and "reference_models" in again
    assert overall([again, again]).startswith("Across all 4 registered claims of the 2 files as one family")
    monkeypatch.setattr(confirm_module, "CLAIMS", tmp_path)
    monkeypatch.setattr(confirm_module, "RESULTS", tmp_path / "published")
    monkeypatch.setattr(confirm_module, "DOCS", ())
    path.write_text(path.read_text() + "# edited after the run\n")
    with pytest.raises(UserError, match="changed after the confirmatory run started"):
        confirm_module.publish([tmp_path / "out" / "norm" / "confirm.json"])
    assert not (tmp_path / "published").exists()


def test_the_cli_refuses_an_unknown_claim_file_and_publishing_nothing_in_one_line(capfd, tmp_path):
    assert run_module("benchmarks.confirm", ["--claims", "nrom", "--plan"]) == 2
    err = capfd.readouterr().err
    assert "error: no claim file" in err and "registered: localise, norm" in err and "Traceback" not in err
    assert run_module("benchmarks.confirm", ["--claims", "norm", "--publish", "--out", str(tmp_path)]) == 2
    assert "no finished confirmatory run at" in capfd.readouterr().err


def test_every_published_confirmation_is_in_the_docs_as_its_json_gives():
    from benchmarks.confirm import update_docs

    assert update_docs(check=True) == []
    for path in sorted(RESULTS.glob("*.json")):
        result = read_json(path)
        assert restate(copy.deepcopy(result)) == result["verdicts"], path
        check_unchanged(CLAIMS / f"{result['name']}.yaml", result["registration"])
