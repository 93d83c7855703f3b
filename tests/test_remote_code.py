"""Ablation folders that travel (issue 38, part 1): a non-original variant's folder is a custom-code Hugging Face
model whose shipped code is generated from the suite's own norm modules; it loads with stock transformers
(``trust_remote_code=True``), survives ``save_pretrained``, gives its tokenizer to ``AutoTokenizer`` and is evaluated
by lm-evaluation-harness by path, as our own loader evaluates it. Every variant's bit-for-bit load, base and
finetuned, is in tests/test_train.py."""

import inspect
import json
from importlib import import_module

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import ablations
from ablations.train import train
from lab.model.remote_code import MODELING_FILE, SHIPPED_MODULES, modeling_source, without_imports
from tests.conftest import FAST, compose_train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dyt_llm_run(tmp_path_factory):
    """A few steps of ``replace_dyt_llm`` (DyT with per-role α₀, no β, a √d embedding scale): every kind of option a
    spec holds."""
    root = tmp_path_factory.mktemp("remote_code")
    train(compose_train([*FAST, "logger=none", "variant=replace_dyt_llm", "eval.accuracy=false"], output_root=root))
    return root / "replace_dyt_llm_finetuned"


def test_the_shipped_code_is_generated_from_the_suites_own_modules(dyt_llm_run):
    shipped = (dyt_llm_run / MODELING_FILE).read_text()
    assert shipped == modeling_source()
    for name in SHIPPED_MODULES:  # every suite module verbatim, its imports aside: no second copy to drift
        assert without_imports(inspect.getsource(import_module(name))) in shipped
    assert "lab." not in "".join(line for line in shipped.splitlines() if line.startswith(("import", "from")))


def test_a_variant_folder_round_trips_through_save_pretrained_and_loads_its_tokenizer(dyt_llm_run, tmp_path):
    stock = AutoModelForCausalLM.from_pretrained(dyt_llm_run, trust_remote_code=True).eval()
    assert stock.model.embed_tokens.scale.item() != pytest.approx(16.0)  # the trained scale, not the fresh √d
    stock.save_pretrained(tmp_path / "copy")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "copy", trust_remote_code=True).eval()
    ids = torch.randint(0, 300, (2, 9))
    with torch.no_grad():
        assert torch.equal(again(ids).logits, ablations.load(dyt_llm_run)(ids).logits)
    tokenizer = AutoTokenizer.from_pretrained(dyt_llm_run, trust_remote_code=True)
    assert tokenizer("The capital of France is")["input_ids"]
    assert json.loads((tmp_path / "copy" / "config.json").read_text())["variant_spec"]["name"] == "replace_dyt_llm"


def test_lm_eval_by_path_grades_a_variant_folder_as_our_loader_does(dyt_llm_run):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from lab.evaluate.lm_eval.harness import prepare_for_generation, task_manager
    from lab.evaluate.lm_eval.targets import load_stage

    manager, limit = task_manager(ours_only=True), 16
    by_path = simple_evaluate(model="hf", model_args=f"pretrained={dyt_llm_run},trust_remote_code=True,device=cpu,batch_size=16",
                              tasks=["tiny_facts"], task_manager=manager, limit=limit, log_samples=True)
    model, tokenizer = load_stage(dyt_llm_run)
    prepare_for_generation(model, tokenizer)
    ours = simple_evaluate(model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=16, device="cpu"), tasks=["tiny_facts"],
                           task_manager=manager, limit=limit, log_samples=True)
    assert by_path["results"]["tiny_facts"]["acc,none"] == ours["results"]["tiny_facts"]["acc,none"]
    answers = [[s["resps"][0][0] for s in sorted(out["samples"]["tiny_facts"], key=lambda s: s["doc_id"])] for out in (by_path, ours)]
    assert answers[0] == answers[1]
