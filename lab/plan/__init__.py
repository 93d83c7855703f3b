"""``python -m lab.plan [OVERRIDES]``: what a training run or grid will cost, before it runs (``make plan ARGS=...``).

    python -m lab.plan experiment=norm_study                           # the tiny study's grid
    python -m lab.plan experiment=norm_study model=qwen3_0.6b trainer.max_steps=2000 data.seq_len=2048 plan.mfu=0.35

Takes the overrides ``ablations.train`` takes (``--config-name gates_train`` for gates), expands the grid as
Hydra's basic sweeper does (command-line sweeps and ``hydra.sweeper.params``), builds each job's model on the
meta device (no weights are loaded; Qwen3-0.6B's and -8B's architectures come from ``lab/config/assets/configs``)
and prints per job:

- parameters N (all of them, and the embedding's);
- tokens D = max_steps · batch_size · seq_len · devices · num_nodes · accumulate_grad_batches (``devices: -1`` or
  ``auto``, every visible GPU, counts as ``plan.gpus``, default 8); an epoch-bounded run (``max_steps: -1``) counts
  max_epochs · (batches per device and epoch) in place of max_steps, its data read as training reads it (bundled,
  local, or the hub when reachable: :func:`epoch_batches`); where the data cannot be read the plan says so;
- FLOPs = 6 · N_matmul · D + 6 · L · T · d_attn · D: every weight matrix once forward and twice backward
  (N_matmul counts the LM head's matrix, tied or not, and not the embedding lookup) plus the attention
  scores and mixing (Kaplan et al. 2020, with n_ctx = the sequence length T and d_attn = heads · head_dim);
- GPU-hours = FLOPs / (peak · MFU) on an A100 (312 dense bf16 TFLOP/s) and an H100 SXM (989), at the stated,
  overridable ``plan.mfu`` (default 0.40, a typical measured MFU for dense decoder training at this size;
  replace it by one a GPU run has measured);
- the predicted peak memory per device (:mod:`lab.plan.memory`) at the job's precision, on a GPU unless
  ``trainer.accelerator=cpu``;
- the disk of its artifacts, finished and at most while running (:mod:`lab.plan.disk`); the grid's in total.

What a job trains and writes (its memory's trained parameters, its disk) is the tool's: the run config's
``plan_terms:`` names the function (:mod:`lab.plan.terms`). A command of several parts names in ``plan_composite:``
a function that lists its jobs (``--config-name gates_benchmark``: :mod:`gates.localise.plan`).
"""

import argparse
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import torch
from hydra import compose
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class, get_method
from omegaconf import DictConfig, OmegaConf
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.config import CONF_DIR, asset_path, group_options
from lab.config.errors import UserError, exit_on_user_error
from lab.config.registry import composing, validate
from lab.data.config import DataConfig
from lab.model import load_tokenizer, model_config
from lab.model.variants import apply_variant
from lab.plan.memory import predict_memory
from lab.plan.terms import JobShape, JobTerms
from lab.train.trainer import resolve_precision

PEAK_TFLOPS = {"A100": 312.0, "H100": 989.0}  # dense bf16 per GPU (NVIDIA datasheets; H100 SXM)
DEFAULTS = {"mfu": 0.40, "gpus": 8, "device_memory_gb": None}  # device_memory_gb: the memory per device to fit in


def split_plan_options(overrides: list[str]) -> tuple[list[str], dict[str, float]]:
    """``plan.<key>=<value>`` options apart from the run's overrides."""
    options, rest = dict(DEFAULTS), []
    for item in overrides:
        key, sep, value = item.partition("=")
        if key.startswith("plan.") and sep:
            name = key.removeprefix("plan.")
            if name not in DEFAULTS:
                raise UserError(f"unknown plan option {key}; valid: {', '.join(f'plan.{k}' for k in DEFAULTS)}")
            try:
                options[name] = float(value)
            except ValueError:
                raise UserError(f"{key}={value!r} is invalid; expected a number") from None
        else:
            rest.append(item)
    if not 0 < options["mfu"] <= 1:
        raise UserError(f"plan.mfu={options['mfu']} is outside (0, 1]")
    if options["device_memory_gb"] is not None and options["device_memory_gb"] <= 0:
        raise UserError(f"plan.device_memory_gb={options['device_memory_gb']:g} is invalid; expected a positive number of GB")
    return rest, options


def expand_grid(config_name: str, overrides: list[str]) -> list[list[str]]:
    """The job override lists of ``overrides`` (a single job when nothing is swept)."""
    base = compose(config_name=config_name, overrides=[o for o in overrides if not _is_sweep(o)], return_hydra_config=True)
    params = base.hydra.sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    parsed = parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + overrides)
    choices: dict[str, list[str]] = {}
    for o in parsed:
        key = o.get_key_element()
        choices[key] = [f"{key}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [f"{key}={o.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]


def compose_jobs(config_name: str, jobs: list[list[str]]) -> list[DictConfig]:
    """Each job's composed config. Jobs that choose the same config-group options and differ only in values share
    one Hydra composition: the first of them is composed, the others are a copy with their values set, as Hydra
    sets command-line values after composing the defaults (typed nodes check them the same way). A grid of
    variants x learning rates x seeds then composes once per variant, not once per job (0.3 s each)."""
    loader = GlobalHydra.instance().config_loader()
    parser = OverridesParser.create(config_loader=loader)
    composed: dict[tuple[str, ...], DictConfig] = {}
    groups: dict[str, bool] = {}  # whether a key names a config group: Hydra's answer costs ~60 ms, asked once per key
    configs = []
    for job in jobs:
        parsed = parser.parse_overrides(job)
        values = [o for o in parsed if _is_plain_value(o, loader, groups)]
        choices = (*(o.input_line for o in parsed if o not in values), *(o.key_or_group for o in values))
        if choices not in composed:
            composed[choices] = compose(config_name=config_name, overrides=job)
            configs.append(composed[choices])
            continue
        cfg = composed[choices].copy()
        for override in values:
            OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
        configs.append(cfg)
    return configs


def _is_plain_value(override, loader, groups: dict[str, bool]) -> bool:
    """``key=value`` that sets a value: not a config group's choice, not an addition, deletion or sweep. ``groups``
    remembers which keys name a group."""
    if (override.is_sweep_override() or override.package is not None or override.is_add() or override.is_force_add()
            or override.is_delete() or override.key_or_group.startswith("hydra")):
        return False
    key = override.key_or_group
    if key not in groups:
        groups[key] = bool(loader.get_group_options(key.replace(".", "/")))
    return not groups[key]


def _is_sweep(override: str) -> bool:
    return OverridesParser.create().parse_overrides([override])[0].is_sweep_override()


def architecture(model_cfg: DictConfig) -> Qwen3Config:
    """The job's Qwen3 config, as training builds it. A hub id with a bundled architecture
    (``lab/config/assets/configs/<name>``: the public model's own config.json) is read from there, without a network
    request; another hub id or folder through ``from_pretrained``'s config; an untrained tiny reference as the
    tiny model's."""
    cfg = OmegaConf.to_container(model_cfg, resolve=True)
    source = str(cfg.get("pretrained") or "")
    bundled = Path(asset_path("configs")) / Path(source.rstrip("/")).name.lower()
    if source and not Path(source).expanduser().exists() and (bundled / "config.json").is_file():
        return model_config({**cfg, "pretrained": str(bundled)})
    try:
        vocab = None if source else len(load_tokenizer(cfg))
        return model_config(cfg, vocab)
    except UserError:
        if cfg.get("reference") == "tiny":  # trained as model=tiny: the same architecture
            tiny = OmegaConf.merge(OmegaConf.load(CONF_DIR / "model" / "tiny.yaml"), {"tokenizer": DataConfig.tokenizer})
            return architecture(tiny)
        raise


_EPOCH_BATCHES: dict[str, int | None] = {}  # one data load per distinct data config within a plan


def epoch_batches(cfg: DictConfig, world: int) -> int | None:
    """Training batches per device in one epoch of ``cfg``'s data module (``datamodule:``, its ``from_run_config``),
    with ``world`` devices splitting each epoch as Lightning's distributed sampler does (ceil(N / world) samples each,
    incomplete batches dropped); None when the data cannot be read here (e.g. a hub dataset offline) or is streamed."""
    datamodule_class = get_class(str(cfg.datamodule))
    parts = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
             for k in ("datamodule", *getattr(datamodule_class, "run_config_keys", tuple(cfg))) if k in cfg}
    key = json.dumps([parts, world], sort_keys=True, default=str)
    if key not in _EPOCH_BATCHES:
        try:
            datamodule = datamodule_class.from_run_config(cfg, load_tokenizer(cfg.model))
            datamodule.setup("fit")
            loaders = datamodule.train_dataloader()
            loaders = list(loaders.values()) if isinstance(loaders, dict) else [loaders]
            # Lightning cycles a dict of loaders to the longest one (mode max_size_cycle)
            _EPOCH_BATCHES[key] = max(-(-len(loader.dataset) // world) // loader.batch_size for loader in loaders)
        except (UserError, OSError, TypeError) as err:  # TypeError: a streamed dataset has no length
            print(f"plan: the data of an epoch-bounded job cannot be counted here: {str(err).splitlines()[0][:160]}")
            _EPOCH_BATCHES[key] = None
    return _EPOCH_BATCHES[key]


def device_count(devices: Any, gpus: float) -> int:
    """``trainer.devices`` as a count: -1 / ``auto`` (every visible GPU) is ``plan.gpus``, a list is its length."""
    if devices in (None, "auto", -1, "-1"):
        return int(gpus)
    if isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices):
        return len(devices)
    return int(devices)


def plan_job(cfg: DictConfig, gpus: float = DEFAULTS["gpus"], count_epochs: bool = True) -> dict[str, Any]:
    """Parameters, tokens, FLOPs, memory per device and disk of one composed job config (see the module docstring);
    ``count_epochs=False`` leaves an epoch-bounded job's steps unknown instead of reading its data to count them."""
    config = architecture(cfg.model)
    with torch.device("meta"):
        model = Qwen3ForCausalLM(config)
    typed = validate(cfg)
    apply_variant(model, typed.variant)
    params = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    head = config.vocab_size * config.hidden_size
    matmul = params - embedding + (head if config.tie_word_embeddings else 0)
    t = typed.trainer
    seq, batch = typed.data.seq_len, typed.data.batch_size
    devices, accumulate = device_count(t.devices, gpus), t.accumulate_grad_batches
    world = devices * t.num_nodes
    per_step = batch * seq * world * accumulate
    steps = t.max_steps if t.max_steps > 0 else None
    if steps is None and count_epochs and t.max_epochs is not None and t.max_epochs > 0:  # epoch-bounded: as many steps as its epochs hold
        batches = epoch_batches(cfg, world)
        steps = t.max_epochs * batches // accumulate if batches is not None else None
    tokens = steps * per_step if steps else None
    d_attn = config.num_attention_heads * config.head_dim
    flops_per_token = 6 * matmul + 6 * config.num_hidden_layers * seq * d_attn
    gpu = runs_on_gpu_planned(t.accelerator)
    precision = resolve_precision(t.precision, "gpu" if gpu else "cpu")
    ddp = t.strategy.startswith("ddp") and world > 1
    shape = JobShape(config, params, matmul, batch, seq, steps, precision, ddp, gpu, typed.run.checkpoint_every_n_steps)
    terms: JobTerms = get_method(str(cfg.plan_terms))
    job, disk = terms(cfg, shape)
    return {"variant": typed.variant.name, "model": cfg.model.name, "params": params, "embedding_params": embedding,
            "tokens": tokens, "flops_per_token": flops_per_token, "flops": flops_per_token * tokens if tokens else None,
            "memory": predict_memory(config, job), "disk": disk}


def runs_on_gpu_planned(accelerator: str) -> bool:
    """Whether the job is planned on a GPU: ``gpu``/``cuda``, and ``auto`` (plans are for GPU runs; pass
    ``trainer.accelerator=cpu`` to plan a CPU one)."""
    return accelerator in ("gpu", "cuda", "auto")


def gpu_hours(flops: float | None, mfu: float) -> dict[str, float | None]:
    return {gpu: (flops / (peak * 1e12 * mfu) / 3600 if flops else None) for gpu, peak in PEAK_TFLOPS.items()}


def plan(config_name: str, overrides: list[str]) -> dict[str, Any]:
    """The whole plan: one entry per job and the grid's totals."""
    overrides, options = split_plan_options(overrides)
    _EPOCH_BATCHES.clear()  # the data is read again for each plan: its files may have changed in between
    with composing():
        jobs = []
        grid = expand_grid(config_name, overrides)
        for job, cfg in zip(grid, compose_jobs(config_name, grid), strict=True):
            if OmegaConf.select(cfg, "plan_composite"):  # a command of several parts (gates.localise.benchmark) lists its own jobs
                jobs += get_method(str(cfg.plan_composite))(cfg, options)
                continue
            entry = plan_job(cfg, options["gpus"])
            jobs.append({"overrides": job, **entry, "gpu_hours": gpu_hours(entry["flops"], options["mfu"])})
    known = [j["flops"] for j in jobs if j["flops"]]
    total = sum(known) if len(known) == len(jobs) else None
    finished = sum(j["disk"]["finished_bytes"] for j in jobs)
    during = [j["disk"]["during_run_bytes"] for j in jobs]
    return {"config": config_name, "mfu": options["mfu"], "peak_tflops": PEAK_TFLOPS, "jobs": jobs,
            "device_memory_gb": options["device_memory_gb"], "too_large": too_large(jobs, options["device_memory_gb"]),
            "total": {"jobs": len(jobs), "flops": total, "gpu_hours": gpu_hours(total, options["mfu"]), "disk_bytes": finished,
                      # jobs run one after another here, so the grid's peak is the finished ones plus one running
                      "disk_during_run_bytes": None if None in during else
                      finished + max(d - j["disk"]["finished_bytes"] for d, j in zip(during, jobs, strict=True))}}


def too_large(jobs: list[dict[str, Any]], device_memory_gb: float | None) -> list[int]:
    """The indices of the jobs whose predicted peak per device exceeds ``device_memory_gb`` (GB = 10^9 bytes, as
    GPU datasheets count)."""
    if device_memory_gb is None:
        return []
    return [i for i, job in enumerate(jobs) if job["memory"]["peak_bytes"] > device_memory_gb * 1e9]


# What lowers the predicted peak per device (lab.plan.memory's terms), in the order to try them.
MEMORY_KNOBS = ("data.batch_size=<smaller> with trainer.accumulate_grad_batches=<k> (same tokens per step; activations scale "
                "with the batch)", "data.seq_len=<shorter> (activations scale with it)", "trainer.precision=bf16-true "
                "(2-byte weights, gradients and AdamW state instead of fp32 masters)", "loss_chunk_size=<fewer rows> "
                "(the loss chunk's logits)")


def fit_report(result: dict[str, Any]) -> list[str]:
    """Lines saying whether the plan fits ``plan.device_memory_gb`` and, when it does not, which jobs and what to change."""
    limit = result.get("device_memory_gb")
    if limit is None:
        return []
    if not result["too_large"]:
        return [f"fits: every job's predicted peak is within plan.device_memory_gb={limit:g} GB per device"]
    lines = [f"does not fit: {len(result['too_large'])} of {len(result['jobs'])} job(s) predict more than plan.device_memory_gb="
             f"{limit:g} GB per device:"]
    for i in result["too_large"][:5]:
        job = result["jobs"][i]
        step = job["memory"]["step"]
        largest = max(step, key=step.get)
        lines.append(f"  {','.join(job['overrides'])[:60] or 'the job'}: {job['memory']['peak_bytes'] / 1e9:.3g} GB "
                     f"(largest term: {largest} {step[largest] / 1e9:.3g} GB)")
    lines.append("  to fit, try: " + "; ".join(MEMORY_KNOBS) + ". More devices split the grid, not one job's memory: "
                 "DDP keeps a whole replica per device")
    return lines


def _human(value: float | None, unit: str = "") -> str:
    if value is None:
        return "?"
    for scale, suffix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}{unit}"
    return f"{value:.3g} {unit}".strip()


def render(result: dict[str, Any]) -> str:
    """The plan as a text table, a total line and what the memory and disk columns are."""
    lines = [f"{'job':<48} {'params':>8} {'tokens':>8} {'FLOPs':>8} {'A100 h':>7} {'H100 h':>7} {'mem/dev':>9} {'disk':>9}"]
    for job in result["jobs"]:
        name = ",".join(o for o in job["overrides"] if not o.startswith(("hydra.", "paths.")))[:48]
        hours = job["gpu_hours"]
        lines.append(f"{name:<48} {_human(job['params']):>8} {_human(job['tokens']):>8} {_human(job['flops']):>8} "
                     f"{_fmt_h(hours['A100']):>7} {_fmt_h(hours['H100']):>7} {_gib(job['memory']['peak_bytes']):>9} "
                     f"{_gib(job['disk']['finished_bytes']):>9}")
    total = result["total"]
    lines.append(f"total: {total['jobs']} job(s), {_human(total['flops'], 'FLOP')}, {_fmt_h(total['gpu_hours']['A100'])} A100-hours, "
                 f"{_fmt_h(total['gpu_hours']['H100'])} H100-hours at MFU {result['mfu']:.2f} (plan.mfu=; peak dense bf16 "
                 f"{PEAK_TFLOPS['A100']:g} / {PEAK_TFLOPS['H100']:g} TFLOP/s); disk {_gib(total['disk_bytes'])} finished"
                 + (f", {_gib(total['disk_during_run_bytes'])} at most while running" if total["disk_during_run_bytes"] else ""))
    first = result["jobs"][0]
    memory = first["memory"]
    parts = ", ".join(f"{k} {_gib(v)}" for k, v in memory["step"].items() if v)
    lines.append(f"mem/dev: predicted peak per {memory['device'].upper()} at {memory['precision']} (lab.plan.memory); "
                 f"first job's training step: {parts}")
    disk = first["disk"]
    lines.append(f"disk: a finished job's artifacts (lab.plan.disk); first job: stages {_gib(disk['stage_bytes'])} each, "
                 f"final checkpoint {_gib(disk['final_checkpoint_bytes'])}"
                 + (f", up to {_gib(disk['during_run_bytes'])} while its step checkpoints exist" if disk["during_run_bytes"] else ""))
    lines.extend(fit_report(result))
    if any(job["tokens"] is None for job in result["jobs"]):
        lines.append("tokens ?: an epoch-bounded run (trainer.max_steps=-1) whose data cannot be read here (see above); "
                     "plan it with trainer.max_steps=<steps per epoch x epochs>, which it also trains with")
    return "\n".join(lines)


def _gib(value: float | None) -> str:
    return "?" if value is None else f"{value / 2**30:.3g} GiB"


def _fmt_h(hours: float | None) -> str:
    return "?" if hours is None or not math.isfinite(hours) else f"{hours:.3g}"


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.plan", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--config-name", default="train", help="train (ablations.train, default), gates_train, gates_benchmark or confirm (the registered claims)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides as for the training command, plus plan.mfu=")
    args = parser.parse_args(argv)
    try:
        result = plan(args.config_name, args.overrides)
    except Exception as err:
        if type(err).__module__.startswith(("hydra", "omegaconf")):
            message = str(err).splitlines()[0]
            missing = re.search(r"Could not find '([\w/]+)/[^/']+'", message)
            if missing and group_options(missing.group(1)):
                message += f"; valid {missing.group(1)} options: {', '.join(group_options(missing.group(1)))}"
            raise UserError(f"the overrides do not compose: {message}") from None
        raise
    print(json.dumps(result, indent=2) if args.json else render(result))
