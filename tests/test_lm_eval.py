"""lm-evaluation-harness with the suite's tasks (issue 18): ours graded exactly as training grades them, the real-scale
groups resolving, and bad input. All offline."""

import pytest
import yaml

from lab.data.datamodule import CorpusDataModule
from lab.data.formats import qa_prompt, reasoning_prompt
from lab.evaluate.graded import greedy_generate, knowledge_accuracy, reasoning_accuracy
from lab.evaluate.lm_eval.harness import (
    TASKS_DIR,
    checked_task_manager,
    our_tasks,
    prepare_for_generation,
    self_contained,
    task_manager,
)
from lab.evaluate.lm_eval.targets import load_stage
from lab.runs.reference import tiny_reference_dir
from tests.conftest import compose_train, run_module

pytestmark = pytest.mark.slow


def test_our_tasks_generate_and_grade_exactly_as_training_does(quick_reference):
    """Every generation of lm-eval's tiny_facts / tiny_arith equals ours token for token, and so do the accuracies
    (on the first rows of each set: lm-eval's ``limit``; the whole sets take minutes on 2 cores)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = load_stage(tiny_reference_dir(quick_reference))
    data = CorpusDataModule(compose_train([]).data, tokenizer)
    data.setup("fit")
    facts, problems = data.eval_rows["knowledge"], data.eval_rows["reasoning"]
    assert (len(facts), len(problems)) == (435, 200)
    limit = 48
    prepare_for_generation(model, tokenizer)
    out = simple_evaluate(model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=48, device="cpu"), tasks=["tiny"],
                          task_manager=task_manager(ours_only=True), limit=limit, log_samples=True)
    results, samples = out["results"], out["samples"]
    assert results["tiny_facts"]["acc,none"] == knowledge_accuracy(model, tokenizer, facts[:limit])
    assert results["tiny_arith"]["acc,none"] == reasoning_accuracy(model, tokenizer, problems[:limit])
    generated = {task: [s["resps"][0][0] for s in sorted(samples[task], key=lambda s: s["doc_id"])] for task in samples}
    ours_facts = greedy_generate(model, tokenizer, [qa_prompt(r["question"]) for r in facts[:limit]], 12)
    assert generated["tiny_facts"] == [o.split("\n")[0] for o in ours_facts]
    ours_arith = greedy_generate(model, tokenizer, [reasoning_prompt(r["problem"]) for r in problems[:limit]], 40)
    assert generated["tiny_arith"] == ours_arith


def test_the_real_scale_groups_resolve_to_known_tasks():
    """knowledge / reasoning / general / unlearning are groups of tasks lm-eval knows (their data is on the hub: not loaded here)."""
    from lm_eval.tasks import TaskManager  # noqa: F401  (the Kind enum lives with the manager's index)

    manager = task_manager()
    expected = {"knowledge": ["popqa", "triviaqa", "nq_open"], "reasoning": ["gsm8k", "arc_challenge"],
                "general": ["hellaswag", "piqa", "lambada_openai", "wikitext"], "tiny": ["tiny_facts", "tiny_arith"],
                "unlearning": ["wmdp_bio", "mmlu", "gsm8k"]}
    for group, members in expected.items():
        entry = manager.task_index[group]
        assert entry.kind.name == "GROUP" and entry.cfg["task"] == members
        assert all(manager.task_index[m].kind.name in ("TASK", "GROUP") for m in members), group  # mmlu is a group
    # a run that asks only for our own tasks indexes only our folder (lm-eval's 14k YAMLs take ~11 s): tiny, not knowledge
    assert self_contained("tiny") and self_contained("tiny_facts") and not self_contained("knowledge")
    assert checked_task_manager(["tiny_facts"]) is task_manager(ours_only=True) and set(our_tasks()) < set(manager.all_tasks)
    popqa = yaml.safe_load((TASKS_DIR / "popqa.yaml").read_text().replace("!function", ""))
    assert popqa["dataset_path"] == "akariasai/PopQA" and manager.task_index["popqa"].yaml_path == TASKS_DIR / "popqa.yaml"


@pytest.mark.parametrize("args,expected", [
    (["{run}", "tasks=[tiny_factz]"], "unknown lm-eval task(s) ['tiny_factz']; `lm-eval --tasks list`"),
    (["{empty}"], "is none of the folders this suite writes and not a Hugging Face model folder"),
    (["{run}", "tasks=[popqa]"], "need their dataset from the Hugging Face hub, which is not reachable"),
])
def test_bad_input_is_one_line_and_exit_2(quick_reference, tmp_path, args, expected, capfd, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    args = [a.format(run=tiny_reference_dir(quick_reference), empty=tmp_path / "empty") for a in args]
    code = run_module("lab.evaluate.lm_eval", args)  # in this process: the harness's imports once per worker, not per case
    _, err = capfd.readouterr()
    assert code == 2, err[-3000:]
    assert expected in err and "Traceback" not in err
