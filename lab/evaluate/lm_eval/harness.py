"""lm-eval on a model object: one ``HFLM`` around the model and tokenizer the suite loaded (no second loading path).

Task names resolve against lm-eval's own tasks plus ours (``tasks/``). Every task's data is loaded before the
model runs, so an unknown task or a hub dataset that cannot be reached is one clear line, not a traceback.
"""

import functools
import os
from pathlib import Path
from typing import Any

from lab.config.errors import UserError

TASKS_DIR = Path(__file__).with_name("tasks")


@functools.cache
def task_manager(ours_only: bool = False):
    """lm-eval's ``TaskManager`` with our task folder included; one per process. The full one indexes every task YAML
    lm-eval ships (about 11 s on 2 cores, and the index does not change while the process runs); ``ours_only`` indexes
    only ours (milliseconds), which is all a run that asks only for our tasks needs (:func:`checked_task_manager`)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=not ours_only)


def our_tasks() -> list[str]:
    """The tasks and groups of our folder (``tasks/``), which run offline."""
    return sorted(task_manager(ours_only=True).all_tasks)


def self_contained(name: str) -> bool:
    """Whether ``name`` is one of our tasks, or our group of such tasks (``tiny``; not ``knowledge``, whose members
    are lm-eval's): then the index of our folder alone resolves it."""
    entry = task_manager(ours_only=True).task_index.get(name)
    if entry is None:
        return False
    members = entry.cfg.get("task") if entry.kind.name == "GROUP" else None
    if members is None:
        return entry.kind.name == "TASK"
    return isinstance(members, list) and all(isinstance(m, str) and self_contained(m) for m in members)


def check_tasks(tasks: list[str], manager) -> list[str]:
    """``tasks`` if lm-eval knows every one (tasks, groups, tags); else a :class:`UserError` naming the others."""
    if not tasks:
        raise UserError("tasks=[] names no task; e.g. tasks=[tiny] (ours, offline) or tasks=[hellaswag,gsm8k]")
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise UserError(f"unknown lm-eval task(s) {unknown}; `lm-eval --tasks list` lists lm-eval's, ours are {', '.join(our_tasks())}")
    return list(tasks)


def load_task_data(tasks: list[str], manager) -> None:
    """Load every task's dataset now; one that needs the hub while it cannot be reached is a :class:`UserError`."""
    from lm_eval.tasks import get_task_dict

    try:
        get_task_dict(tasks, manager)
    except Exception as err:  # datasets raises several kinds when the hub is out of reach
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        if offline or "connect" in text.lower() or "offline" in text.lower() or "resolve" in text.lower():
            raise UserError(f"task(s) {tasks} need their dataset from the Hugging Face hub, which is not reachable"
                            f"{' (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set)' if offline else ''}: {text[:160]}; run once with "
                            "the network (datasets caches it) or point the task at a local copy") from None
        raise


def checked_task_manager(tasks: list[str]):
    """A task manager for ``tasks``, each one known and its data loadable (else a :class:`UserError`): the checks
    to run once, before any model is loaded."""
    manager = task_manager(ours_only=bool(tasks) and all(self_contained(t) for t in tasks))
    check_tasks(tasks, manager)
    load_task_data(tasks, manager)
    return manager


def prepare_for_generation(model, tokenizer) -> None:
    """Stop generation at the tokenizer's end of text: a model built from a config may carry another vocabulary's
    ids (the tiny model's config keeps Qwen's), and lm-eval stops at ``generation_config.eos_token_id``."""
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def environment_info_once() -> None:
    """Compute torch's environment report once per process: lm-eval adds
    ``torch.utils.collect_env.get_pretty_env_info()`` to every result, which starts ``pip list`` each time (about
    1 s), and ``gates.evaluate`` runs lm-eval once per masking setting. The environment does not change meanwhile."""
    import torch.utils.collect_env as collect_env

    if not hasattr(collect_env.get_pretty_env_info, "cache_info"):
        collect_env.get_pretty_env_info = functools.cache(collect_env.get_pretty_env_info)


def run_tasks(model, tokenizer, tasks: list[str], *, batch_size: int | str = 16, device: str = "cpu", limit: float | None = None,
              num_fewshot: int | None = None, manager=None, checked: bool = False) -> dict[str, Any]:
    """``lm_eval.simple_evaluate`` on ``model`` (already on ``device``, eval mode); lm-eval's result dict without samples.
    ``checked``: ``manager`` came from :func:`checked_task_manager` for these tasks (skip checking them again)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    if not (checked and manager is not None):
        manager = checked_task_manager(tasks)
    prepare_for_generation(model, tokenizer)
    environment_info_once()
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device=device)
    return simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=limit, num_fewshot=num_fewshot, log_samples=False)


def scores(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{task: {metric: value}}`` of lm-eval's ``results`` (the filter suffix ``,none`` dropped, stderrs left out)."""
    table = {}
    for task, metrics in results.get("results", {}).items():
        values = {}
        for key, value in metrics.items():
            metric, _, filt = key.partition(",")
            if filt and "_stderr" not in metric and isinstance(value, (int, float)):
                values[metric if filt == "none" else f"{metric} ({filt})"] = float(value)
        if values:
            table[task] = values
    return table
