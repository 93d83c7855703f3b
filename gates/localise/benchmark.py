"""The knowledge-localisation benchmark: every method's neurons edited on the same model, graded the same way.

    python -m gates.localise                                    # seeds 0, 1, 2 on the tiny reference (make localise)
    python -m gates.localise seeds=[0] relearn.steps=[0,10]     # a quick look
    python -m gates.localise "train=['model=qwen3_0.6b','data=popqa_numina','trainer=gpu']"

Per seed s (the gate runs' ``seed``, which also draws the facts' split, :mod:`gates.facts`), each method ranks all
N FFN neurons and the top k = round(``budget`` · N) are edited (and, graded only, the top share of each of
``budgets``):

- ``gates``: the lowest trained gates g = σ(λ) (``python -m gates.train``, the forget facts only);
- ``trained_random``: the same training with gates free only on a random k neurons, the rest open
  (``gates.free_fraction=budget``): the control with the same loss, steps and budget;
- ``attribution``: the largest activation × gradient of the forget answers' log-probability (:mod:`gates.localise.attribution`);
- ``gate3_attribution``: Gate 3's direct logit attribution on each forget prompt, summed over the forget facts;
- ``vindex_features``: the neurons whose vindex down-meta logits (E · d_j) for the forget answers are largest, a
  weight-only rule (both :mod:`gates.localise.logit_attribution`);
- ``random``: k neurons drawn uniformly, ``random_draws`` times (seeds 1000·s + d);
- ``gate3_delete``: not a mask but seed 002's rank-1 DELETE edit of ``gate_proj`` for every forget fact, summed
  (:mod:`gates.localise.delete`; edit ``rank1``, at most k gate rows touched).

Every model (edited or not) is also read by a linear probe for the forgotten answer (:mod:`gates.localise.probe`): fitted on
the held-out facts' residual streams, its accuracy on the forget facts at every layer (``probe.layer`` in the
tables).

Edits (weights changed, :func:`gates.masking.scale_neurons`): ``hard`` sets the k neurons' ``down_proj`` columns to
0; ``soft`` multiplies them by the trained gate (gate methods only); ``rank1`` is ``gate3_delete``'s. Each edited
model is graded on recall of the forget, held-out and other-relation facts (asked as graded, ``Q: … A:``, and as
statements, ``The capital of France is``) and on arithmetic, then fine-tuned by each attack of
``relearn.attacks`` (:data:`gates.schema.ATTACKS`: the held-out facts' texts with every weight free or with the
edited columns frozen, the retain text as the unrelated-text control, the other relations' facts as the
same-template control), its forget recall graded after each of
``relearn.steps``. The unedited model (``none``) is graded and attacked the same way (its frozen attack is its free
one: nothing is edited). Written to ``out``: ``seed<s>.json`` per seed (a rerun skips finished seeds and
finished gate runs), then ``benchmark.json``, ``benchmark.md`` and ``benchmark.png`` (:mod:`gates.localise.report`).
On CPU the seeds run at once, one process each; on a GPU one after another (``workers``, :func:`run_seeds`).
"""

import logging
import math
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import torch
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from gates.data import load_gate_rows
from gates.facts import FactSplit, read_split, recall_by_set, split_facts
from gates.files import read_lambda_logits
from gates.localise.attribution import neuron_attributions
from gates.localise.delete import delete_facts
from gates.localise.edited import EDITED_DIR, save_edited_model
from gates.localise.logit_attribution import gate3_scores, vindex_feature_scores
from gates.localise.probe import probe_accuracy
from gates.localise.relearn import relearn
from gates.localise.report import write_report
from gates.masking import model_shape, scale_neurons
from gates.runs import load_base_model
from gates.schema import graded_budgets, seed_workers
from lab.config.command import hydra_cli, hydra_command
from lab.config.errors import UserError
from lab.config.registry import as_typed, typed_nodes
from lab.data.formats import knowledge_documents
from lab.data.subset import graded_subset
from lab.evaluate.graded import knowledge_correct, reasoning_accuracy, statement_correct
from lab.evaluate.lm_eval.harness import checked_task_manager, run_tasks, scores
from lab.runs.artifacts import read_json, write_json
from lab.runs.children import die_with_parent
from lab.runs.reference import ensure_reference_model

log = logging.getLogger(__name__)

DRAW_SEED = 1000  # random draw d of seed s uses torch seed 1000 · s + d
MIN_FACTS = 10  # the fewest facts either side of a seed's held-out split may hold: a recall over fewer says little


def check_splits(cfg: DictConfig):
    """Refuse, before anything is trained or written, an lm-eval task of ``tasks`` it cannot run, and a held-out split (the gate runs' ``gates.held_out`` and
    ``gates.forget_relations`` with ``train``'s overrides) that leaves fewer than :data:`MIN_FACTS` facts to forget
    or held out for one of ``seeds``. Returns lm-eval's task manager for ``tasks`` (None without tasks)."""
    manager = checked_task_manager(list(cfg.tasks)) if cfg.tasks else None  # an unknown task, or one out of reach, is refused now
    run = gate_run_config(cfg)
    facts = load_gate_rows(run.data).knowledge
    for seed in cfg.seeds:
        split = split_facts(facts, run.gates.forget_relations, run.gates.held_out, int(seed))
        if min(len(split.forget), len(split.held_out)) < MIN_FACTS:
            raise UserError(f"gates.held_out={run.gates.held_out} splits the {len(split.forget) + len(split.held_out)} facts of "
                            f"{split.relations} into {len(split.forget)} to forget and {len(split.held_out)} held out (seed {seed}); "
                            f"the benchmark needs at least {MIN_FACTS} on each side")
    return manager


def gate_run_config(cfg: DictConfig) -> DictConfig:
    """The config the benchmark's gate runs compose (``gates_train`` with ``train``'s overrides)."""
    return compose(config_name="gates_train", overrides=[*cfg.train, f"paths.runs={cfg.paths.runs}"])


def train_gates(folder: Path, seed: int, runs: str, overrides: list[str]) -> Path:
    """``python -m gates.train`` into ``folder`` (a finished run there is reused), its outputs (the tiny reference it
    may train first) under ``runs``; its log in ``folder``.log."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "gates.train", f"seed={seed}", "logger=none", "trainer.enable_progress_bar=false",
            f"paths.runs={runs}", f"hydra.run.dir={folder}", *overrides]
    with open(f"{folder}.log", "w") as log:
        done = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, check=False, preexec_fn=die_with_parent)
    if done.returncode != 0:
        raise UserError(f"gates.train seed={seed} failed (exit {done.returncode}): {last_error(Path(f'{folder}.log'))}; "
                        f"the whole log is {folder}.log")
    return folder


def last_error(log: Path) -> str:
    """A failed run's cause from its log: its last ``error:`` line, else its last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.is_file() else []
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    return errors[-1] if errors else (lines[-1] if lines else "it printed nothing")


def top_share(score: torch.Tensor, budget: float) -> torch.Tensor:
    """The bool mask of the round(budget · N) neurons with the largest ``score`` over all layers."""
    flat = score.flatten()
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[torch.topk(flat, round(budget * flat.numel())).indices] = True
    return mask.view(score.shape)


def rankings(cfg: DictConfig, seed: int, folders: dict[str, Path], model, tokenizer, split: FactSplit, seq_len: int):
    """``{(method, draw): (score [L, I], gate values or None)}`` for each masking method of ``cfg.methods`` (not
    ``gate3_delete``, a weight edit of its own): the top ``budget`` share of ``score`` is edited. Computed once on
    the unedited model for every budget; a gate method's draw is its run's name, and the trained random control
    has one run per budget (:func:`trained_random_name`)."""
    shape, ranked = model_shape(model), {}
    for method in cfg.methods:
        if method in ("gates", "trained_random"):
            for name in [n for n in folders if n == method or (method == "trained_random" and n.startswith("trained_random"))]:
                logits = read_lambda_logits(folders[name], shape)
                ranked[(method, name)] = (-logits, torch.sigmoid(logits))
        elif method == "attribution":
            ranked[(method, None)] = (neuron_attributions(model, tokenizer, split.forget, seq_len), None)
        elif method == "gate3_attribution":
            ranked[(method, None)] = (gate3_scores(model, tokenizer, split.forget), None)
        elif method == "vindex_features":
            ranked[(method, None)] = (vindex_feature_scores(model, tokenizer, split.forget), None)
        elif method == "random":
            for draw in range(cfg.random_draws):
                generator = torch.Generator().manual_seed(DRAW_SEED * seed + draw)
                ranked[(method, draw)] = (torch.rand(shape, generator=generator), None)
    return ranked


def selections(cfg: DictConfig, ranked: dict, budget: float):
    """``(method, draw, chosen mask, gate values or None)`` at ``budget``: each ranking's top share, the trained
    random control from its run at that budget."""
    for (method, draw), (score, values) in ranked.items():
        if method in ("gates", "trained_random"):
            if method == "gates" or draw == trained_random_name(cfg, budget):
                yield method, None, top_share(score, budget), values
            continue
        yield method, draw, top_share(score, budget), values


def grade(model, tokenizer, rows, split: FactSplit, cfg: DictConfig, manager=None) -> dict:
    """Recall per set and relation (:func:`gates.facts.recall_by_set`), the same asked as statements
    (``statement_<set>_recall``, :func:`lab.evaluate.graded.statement_correct`), arithmetic accuracy, the linear
    probe's accuracy on the forget facts per layer (``probe``) and at the declared layer (``probe_acc``), and with
    ``manager`` (lm-eval's checked task manager) ``<task>/<metric>`` of every lm-eval task of ``cfg.tasks``."""
    correct = knowledge_correct(model, tokenizer, rows.knowledge, cfg.max_new_tokens.knowledge)
    stated = recall_by_set(rows.knowledge, statement_correct(model, tokenizer, rows.knowledge, cfg.max_new_tokens.knowledge), split)
    probe = probe_accuracy(model, tokenizer, split.held_out, split.forget, cfg.probe.ridge)
    layer = (len(probe) - 1) // 2 if cfg.probe.layer is None else cfg.probe.layer
    if layer >= len(probe):
        raise UserError(f"probe.layer={layer} is outside the model's residual streams 0..{len(probe) - 1}")
    return {**recall_by_set(rows.knowledge, correct, split),
            **{f"statement_{name}_recall": stated[f"{name}_recall"] for name in split.sets()},
            "reasoning_acc": reasoning_accuracy(model, tokenizer, rows.reasoning_eval, cfg.max_new_tokens.reasoning),
            "probe": probe, "probe_layer": layer, "probe_acc": probe[layer], **lm_eval_scores(model, tokenizer, cfg, manager)}


def lm_eval_scores(model, tokenizer, cfg: DictConfig, manager) -> dict[str, float]:
    """``<task>/<metric>`` of every task of ``cfg.tasks`` on the model as it is edited now ({} without tasks or
    ``manager``, the task manager :func:`check_splits` checked them with)."""
    if not cfg.tasks or manager is None:
        return {}
    options = cfg.lm_eval
    results = run_tasks(model, tokenizer, list(cfg.tasks), batch_size=options.batch_size, device=str(model.device),
                        limit=options.limit, num_fewshot=options.num_fewshot, manager=manager, checked=True)
    model.eval()
    return {f"{task}/{metric}": value for task, metrics in scores(results).items() for metric, value in metrics.items()}


def trained_random_name(cfg: DictConfig, budget: float) -> str:
    """The trained random control's run for ``budget``: ``trained_random`` at the main budget, else with the share."""
    return "trained_random" if budget == cfg.budget else f"trained_random_{budget:g}"


def gate_runs(cfg: DictConfig, seed: int, out: Path) -> dict[str, Path]:
    """The seed's gate run, and the trained random control's at each graded budget where it is a method:
    ``{run name: folder}`` (:func:`trained_random_name`)."""
    runs = str(cfg.paths.runs)
    folders = {"gates": train_gates(out / f"seed{seed}" / "gates", seed, runs, list(cfg.train))}
    if "trained_random" in cfg.methods:
        for budget in graded_budgets(cfg):
            name = trained_random_name(cfg, budget)
            folders[name] = train_gates(out / f"seed{seed}" / name, seed, runs, [*cfg.train, f"gates.free_fraction={budget}"])
    return folders


class Attacks:
    """One seed's relearning attacks on its model: every ``relearn.attacks`` run from the edited weights, the model
    set back to the unedited ``base`` after each setting."""

    def __init__(self, cfg: DictConfig, seed: int, model, tokenizer, split: FactSplit, rows, seq_len: int) -> None:
        self.cfg, self.seed, self.model, self.tokenizer, self.split, self.seq_len = cfg, seed, model, tokenizer, split, seq_len
        self.base = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.texts = {"held_out": [text for fact in split.held_out for text in knowledge_documents(fact)],
                      "unrelated": rows.reasoning_train,
                      "other_facts": [text for fact in split.other for text in knowledge_documents(fact)]}

    def forget_recall(self, m) -> float:
        correct = knowledge_correct(m, self.tokenizer, self.split.forget, self.cfg.max_new_tokens.knowledge)
        return recall_by_set(self.split.forget, correct, self.split)["forget_recall"]

    def attacked(self, setting: dict, edited: torch.Tensor | None = None, frozen_attack: bool = True) -> dict:
        """``setting`` with its forget-recall curve under each attack (the frozen one only for a ``down_proj``
        edit), the model back to ``base`` after."""
        start, curves = {k: v.detach().clone() for k, v in self.model.state_dict().items()}, {}
        for attack in self.cfg.relearn.attacks:
            if attack == "held_out_frozen" and not frozen_attack:
                continue
            frozen = edited if attack == "held_out_frozen" else None
            if attack == "held_out_frozen" and edited is None and "held_out" in curves:
                curves[attack] = curves["held_out"]  # nothing edited, nothing to freeze: the free attack
                continue
            self.model.load_state_dict(start)
            curve = relearn(self.model, self.tokenizer, self.texts[attack.removesuffix("_frozen")], list(self.cfg.relearn.steps),
                            self.forget_recall, self.cfg.relearn.lr, self.cfg.relearn.batch_size, self.seq_len, self.seed,
                            frozen=frozen)
            curves[attack] = {str(k): v for k, v in curve.items()}
        self.model.load_state_dict(self.base)
        return {**setting, "relearn": curves}

    def finished(self, setting: dict, main: bool, edited: torch.Tensor | None = None, frozen_attack: bool = True) -> dict:
        """Attacked at the main budget; graded only at the others (no relearning curves)."""
        if main:
            return self.attacked(setting, edited, frozen_attack)
        self.model.load_state_dict(self.base)
        return {**setting, "relearn": {}}


def seed_results(cfg: DictConfig, seed: int, out: Path, manager=None, position: int = 0) -> dict:
    """Every method's edits of one seed at every graded budget, graded, and attacked at ``budget`` (the module
    docstring); ``manager``: lm-eval's checked task manager, graded at ``budget`` only; ``position``: the line of
    its progress bar (one per process running seeds at once)."""
    folders = gate_runs(cfg, seed, out)
    model, tokenizer, meta = load_base_model(folders["gates"])
    data = as_typed(OmegaConf.create(meta["config"]["data"]), typed_nodes()["data"])  # typed as the gate run had it
    rows = load_gate_rows(data)
    rows.knowledge = graded_subset(rows.knowledge, data.get("eval_limit"))  # as gates.evaluate grades them
    split = read_split(folders["gates"], rows.knowledge)
    attacks = Attacks(cfg, seed, model, tokenizer, split, rows, data.seq_len)
    settings = [attacks.attacked({"method": "none", "mode": "none", "draw": None, "budget": None, "fraction_edited": 0.0,
                                  **grade(model, tokenizer, rows, split, cfg, manager)})]
    ranked = rankings(cfg, seed, folders, model, tokenizer, split, data.seq_len)
    chosen_sets = {}
    for budget in graded_budgets(cfg):
        main = budget == cfg.budget
        graded_with = manager if main else None
        for method, draw, chosen, values in tqdm(list(selections(cfg, ranked, budget)), desc=f"seed {seed}, budget {budget:g}", unit="set",
                                               position=position):
            if main:
                chosen_sets[method if draw is None else f"{method}/{draw}"] = chosen
            for mode in cfg.modes:
                if mode == "soft" and values is None:
                    continue  # no gate values to scale by
                multiplier = torch.where(chosen, torch.zeros(()) if mode == "hard" else values, torch.ones(()))
                scale_neurons(model, multiplier)
                fraction = float(chosen.float().mean())
                if main and cfg.save_edits and draw in (None, 0):
                    save_edited_model(model, tokenizer, meta, out / f"seed{seed}", seed, method, mode, budget, fraction, draw)
                settings.append(attacks.finished({"method": method, "mode": mode, "draw": draw, "budget": budget,
                                                  "fraction_edited": fraction,
                                                  **grade(model, tokenizer, rows, split, cfg, graded_with)}, main, edited=chosen))
        if "gate3_delete" in cfg.methods:
            touched = delete_facts(model, tokenizer, split.forget, round(budget * math.prod(model_shape(model))))
            fraction = float(touched.float().mean())
            if main:
                chosen_sets["gate3_delete"] = touched
                if cfg.save_edits:
                    save_edited_model(model, tokenizer, meta, out / f"seed{seed}", seed, "gate3_delete", "rank1", budget, fraction)
            settings.append(attacks.finished({"method": "gate3_delete", "mode": "rank1", "draw": None, "budget": budget,
                                              "fraction_edited": fraction,
                                              **grade(model, tokenizer, rows, split, cfg, graded_with)}, main, frozen_attack=False))
    return {"seed": seed, "threads": torch.get_num_threads(),  # float sums round by thread count: what a rerun must match
            "facts": {name: len(facts) for name, facts in split.sets().items()}, "relations": split.relations,
            "num_neurons": int(model_shape(model)[0] * model_shape(model)[1]), "settings": settings,
            "overlap": overlaps(chosen_sets)}


def overlaps(chosen: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Jaccard |A ∩ B| / |A ∪ B| of every two methods' neuron sets (random: its first draw), over all neurons and per
    layer (null for a layer where neither chose a neuron)."""
    sets = {name.removesuffix("/0"): mask for name, mask in chosen.items() if "/" not in name or name.endswith("/0")}
    names, result = sorted(sets), {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            inter, union = (sets[a] & sets[b]).sum(dim=1), (sets[a] | sets[b]).sum(dim=1)
            result[f"{a}~{b}"] = {"all": float(inter.sum() / union.sum()),
                                  "per_layer": [float(x / u) if u else None for x, u in zip(inter, union, strict=True)]}
    return result


def training(seed_folder: Path) -> dict[str, dict]:
    """Per gate run of a seed: its steps and the forget answers' cross-entropy (``train/entity_ce``) at its first and
    last step, from the run's ``train_metrics.json``: whether training moved the forget objective."""
    result = {}
    for metrics in sorted(seed_folder.glob("*/train_metrics.json")):
        ce = [row["train/entity_ce"] for row in read_json(metrics) if "train/entity_ce" in row]
        if ce:
            result[metrics.parent.name] = {"steps": len(ce), "entity_ce_first": ce[0], "entity_ce_last": ce[-1]}
    return result


def start_worker(parent: int, threads: int, lock) -> None:
    """A seed process's setup: it stops when ``parent`` (the benchmark) does; ``threads`` torch threads for it and
    for the gate runs it starts; one tqdm lock."""
    die_with_parent(parent)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    tqdm.set_lock(lock)


def seed_job(config: dict, seed: int, out: str, position: int) -> int:
    """One seed in a worker process: :func:`seed_results` written to ``out``/seed<s>.json (lm-eval's task manager
    built again here: it does not cross processes)."""
    cfg = OmegaConf.create(config)
    manager = checked_task_manager(list(cfg.tasks)) if cfg.tasks else None
    write_json(Path(out) / f"seed{seed}.json", seed_results(cfg, seed, Path(out), manager, position))
    return seed


def run_seeds(cfg: DictConfig, seeds: list[int], out: Path, manager) -> None:
    """``seed<s>.json`` for each of ``seeds``: one after another in this process with one worker, else in that many
    spawned processes at once, each with cpu_count // workers torch threads (at least 1).

    On a few CPU cores a tiny model's ops are too small for several threads to pay off: three seeds at one thread
    each finish sooner than one after another at two (docs/gates.md gives the times). Float sums may round
    differently with another thread count, so a rerun compares like with like only at the same ``workers``."""
    workers = seed_workers(cfg, len(seeds), gpu=torch.cuda.is_available())
    if workers == 1:
        for seed in seeds:
            write_json(out / f"seed{seed}.json", seed_results(cfg, seed, out, manager))
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    config = OmegaConf.to_container(cfg, resolve=True)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools or CUDA state
    with ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker,
                             initargs=(os.getpid(), threads, context.RLock())) as pool:
        jobs = [pool.submit(seed_job, config, seed, str(out), position) for position, seed in enumerate(seeds)]
        try:
            for job in jobs:
                job.result()
        except BrokenProcessPool as err:
            raise UserError(f"a seed's process died ({err}; out of memory?): finished seeds are kept in {out}; "
                            f"rerun with workers=1 (one seed at a time) or fewer workers") from None


def run_benchmark(cfg: DictConfig) -> dict:
    """Every seed's results (the finished ones in ``out`` kept), then the report. The gate runs' reference model is
    trained here, once, before any seed starts: seeds in worker processes would each wait for it on one thread."""
    manager = check_splits(cfg)
    ensure_reference_model(gate_run_config(cfg).model, cfg.paths.runs)
    out = Path(cfg.out).expanduser() if cfg.out else Path(HydraConfig.get().runtime.output_dir)
    finished = [s for s in cfg.seeds if (out / f"seed{s}.json").is_file()]
    if cfg.save_edits and (unsaved := [s for s in finished if not (out / f"seed{s}" / EDITED_DIR).is_dir()]):
        log.warning("save_edits=true: seed(s) %s finished before without it and are not rerun, so their edited models are "
                    "not written; give another out= (or remove their seed<s>.json) to write them", unsaved)
    run_seeds(cfg, [int(s) for s in cfg.seeds if s not in finished], out, manager)
    per_seed = [{**read_json(out / f"seed{seed}.json"), "training": training(out / f"seed{seed}")} for seed in cfg.seeds]
    return write_report(OmegaConf.to_container(cfg, resolve=True), per_seed, out,
                        publish_as=cfg.publish_as if cfg.publish else None)


@hydra_command("gates_benchmark")
def main(cfg: DictConfig) -> None:
    run_benchmark(cfg)


if __name__ == "__main__":
    hydra_cli(main)
