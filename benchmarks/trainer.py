"""Benchmark 1: ``ablations.train``'s training step vs Hugging Face ``Trainer`` (the seed's checkpoints came from it).

Same model (a random Qwen3, hidden 256, 4 layers, intermediate 768), same data, batch, precision (fp32 on
CPU, bf16 matmuls are ~100× slower here), optimizer (AdamW, lr 3e-3, betas (0.9, 0.95), weight decay 0.1,
cosine schedule, gradient clipping at 1.0):

* data: the bundled corpus's variable-length documents (PopQA facts and NuminaMath solutions), tokenized and
  packed into 8 × 256 blocks the way both documentations recommend (``run_clm``'s ``group_texts``; our
  ``CorpusDataModule``): one packed dataset, fed to both;
* ours: :class:`lab.train.module.CausalLMModule` in a ``lightning.Trainer`` with the callbacks ``ablations.train``
  uses (gradient-norm health check, metric history), logging every step, its loss in fused chunks
  (``loss_chunk_size: auto``) and fused AdamW (``optimizer.fused``): ``ours`` compiled, the default path of a
  run of at least ``compile.auto_min_steps`` (1,000) steps under ``compile.enabled: auto``, the main job's
  included; ``ours_eager``, the default path of a shorter run (where the one-off compile would not pay for
  itself). Which one ``python -m ablations.train`` takes, as ``conf/`` configures it, is reported as the
  default path (:func:`default_job_path`);
* theirs: ``transformers.Trainer`` with ``default_data_collator``, ``use_cpu=True``, no saving, no reporting,
  its default optimizer ``adamw_torch_fused``: ``hf_trainer`` as documented by default, ``hf_trainer_compile``
  with ``torch_compile=True`` (small model only).

Two vocabularies: 4,096 and Qwen3's 151,936 (the bundled tokenizer's ids only use the first 1,696 rows; the
cost is the embedding, the LM head and the [8, 256, V] logits). Each (system, size) runs in a fresh process
(peak RSS is its own), interleaved over rounds; step times are the median of the steps after the three warm-up
steps. Memory: the process's peak RSS, and the peak RSS during training over the RSS when training started
(what training itself adds, sampled every millisecond). MFU = 6 · N_params · tokens / step time / the fp32 matmul FLOP/s timed in the same process.

Speed is also measured in lockstep: ``ours`` and ``hf_trainer`` in one process, alternating step by step
(:class:`Baton`), so that each step is timed in the same minute as the other system's (this machine's speed
drifts up to 3× minute to minute; separate processes a minute apart differ by ±15 %); its ratio is the
median over the rounds.

Targets: ≥ 1.2× Trainer's tokens/s at vocabulary 4,096; at 151,936, ≤ 0.5× Trainer's peak memory at no
lower speed. Ratios are ``ours / hf_trainer``; the others are reported beside them. Compile time is not part
of the step times (the first three steps are warm-up) and is reported as ``first_steps_s``.

    python -m benchmarks.trainer [--rounds 2]      # or --one SYSTEM VOCAB, --lockstep VOCAB: one measurement
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict

import torch

from benchmarks.common import PeakRSS, matmul_gflops, peak_rss_mib, print_table, random_qwen3, write_result
from lab.config.schema import OptimizerConfig

BATCH, SEQ = 8, 256
SIZES = {"vocab 4,096": 4096, "vocab 151,936": 151936}
STEPS = {4096: 30, 151936: 8}
LOCKSTEP_STEPS = {4096: 60, 151936: 8}  # per system; the pairs, not the processes, carry the comparison
WARMUP_STEPS = 3
# every key the training module reads, typed: a key the schema gains reaches the benchmark (it once broke on a missing one)
OPTIMIZER = OptimizerConfig(lr=3e-3, warmup_steps=2)
OPTIM = asdict(OPTIMIZER)  # as the result JSON records it
SYSTEMS = {4096: ("ours", "ours_eager", "hf_trainer", "hf_trainer_compile"), 151936: ("ours", "hf_trainer", "hf_trainer_compile")}


class Baton:
    """Two training loops in one process (two threads) taking turns, one step each.

    A player holds the turn from the start of its step until the start of its next one (so its between-step
    work never overlaps the other's timed step) and then hands it over. Both loops are so timed in the same
    minutes of a machine whose speed drifts up to 3x minute to minute: their per-step times pair up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._finished: set[int] = set()

    def take(self, player: int) -> None:
        with self._cond:
            if self._owner == player and 1 - player not in self._finished:
                self._owner = 1 - player
                self._cond.notify_all()
            self._cond.wait_for(lambda: self._owner in (None, player) or 1 - player in self._finished)
            self._owner = player

    def finish(self, player: int) -> None:
        with self._cond:
            self._finished.add(player)
            if self._owner == player:
                self._owner = None
            self._cond.notify_all()


def packed_blocks():
    """The bundled corpus's documents, packed into SEQ-token blocks with the tiny tokenizer."""
    import datasets

    from lab.config import asset_path
    from lab.data.formats import knowledge_documents, reasoning_document
    from lab.data.packing import pack_documents
    from lab.model import load_tokenizer

    tokenizer = load_tokenizer({"tokenizer": asset_path("tiny_tokenizer")})
    facts = datasets.load_dataset("parquet", data_files=asset_path("tiny_corpus/popqa/train.parquet"), split="train")
    problems = datasets.load_dataset("parquet", data_files=asset_path("tiny_corpus/numina/train.parquet"), split="train")
    docs = [d for row in facts for d in knowledge_documents(row)] + [reasoning_document(row) for row in problems]
    return pack_documents(datasets.Dataset.from_dict({"text": docs}), tokenizer, SEQ)


def build_model(vocab: int):
    return random_qwen3(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                        head_dim=64, vocab_size=vocab, tie_word_embeddings=True)


def run_ours(vocab: int, steps: int, compile: bool, turns: tuple[Baton, int] | None = None) -> tuple[list[float], float]:
    import lightning as L
    from torch.utils.data import DataLoader

    from lab.config.schema import CompileConfig, EvalConfig
    from lab.train.health import TrainingHealth
    from lab.train.history import MetricsHistory
    from lab.train.module import CausalLMModule

    blocks = packed_blocks()
    module = CausalLMModule(build_model(vocab), None, OPTIMIZER, EvalConfig(accuracy=False), "auto",
                            CompileConfig(enabled=compile, backend="inductor"))
    times: list[float] = []

    class StepTimer(L.Callback):
        def on_train_batch_start(self, *args) -> None:
            if turns:
                turns[0].take(turns[1])
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            times.append(time.perf_counter() - self.start)

    loader = DataLoader(blocks.with_format("torch"), batch_size=BATCH, shuffle=True, drop_last=True,
                        collate_fn=lambda rows: {"input_ids": torch.stack([r["input_ids"] for r in rows]),
                                                 "labels": torch.stack([r["input_ids"] for r in rows])})
    trainer = L.Trainer(accelerator="cpu", devices=1, precision="32-true", max_steps=steps, gradient_clip_val=1.0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        log_every_n_steps=1, callbacks=[TrainingHealth(), MetricsHistory(), StepTimer()])
    with PeakRSS() as memory:
        trainer.fit(module, train_dataloaders=loader)
    return times, memory.over_base_mib


def run_trainer(vocab: int, steps: int, compile: bool, turns: tuple[Baton, int] | None = None) -> tuple[list[float], float]:
    from transformers import Trainer, TrainerCallback, TrainingArguments, default_data_collator

    blocks = packed_blocks().map(lambda row: {"labels": row["input_ids"]})
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *args, **kwargs) -> None:
            if turns:
                turns[0].take(turns[1])
            self.start = time.perf_counter()

        def on_step_end(self, *args, **kwargs) -> None:
            times.append(time.perf_counter() - self.start)

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=BATCH, max_steps=steps, learning_rate=OPTIMIZER.lr,
                                 adam_beta1=OPTIMIZER.betas[0], adam_beta2=OPTIMIZER.betas[1], adam_epsilon=OPTIMIZER.eps,
                                 weight_decay=OPTIMIZER.weight_decay, warmup_steps=OPTIMIZER.warmup_steps,
                                 lr_scheduler_type="cosine", max_grad_norm=1.0, logging_steps=1, save_strategy="no",
                                 report_to=[], use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=0,
                                 torch_compile=compile)
        trainer = Trainer(model=build_model(vocab), args=args, train_dataset=blocks, data_collator=default_data_collator,
                          callbacks=[StepTimer()])
        with PeakRSS() as memory:
            trainer.train()
    return times, memory.over_base_mib


def measure_one(system: str, vocab: int, steps: int | None = None) -> dict:
    """One system's training run in this process: the median step after warm-up, tokens/s, memory, MFU. ``steps``
    (default :data:`STEPS`) fewer than the warm-up make a smoke run: it times every step."""
    gflops = matmul_gflops()
    run_system = run_ours if system.startswith("ours") else run_trainer
    times, training_mib = run_system(vocab, steps or STEPS[vocab], compile=system in ("ours", "hf_trainer_compile"))
    step = statistics.median(times[WARMUP_STEPS:] or times)
    params = sum(p.numel() for p in build_model(vocab).parameters())
    return {"step_s": step, "tokens_per_s": BATCH * SEQ / step, "peak_rss_mib": peak_rss_mib(),
            "training_peak_over_start_mib": training_mib, "first_steps_s": sum(times[:WARMUP_STEPS]),
            "mfu": 6 * params * BATCH * SEQ / step / (gflops * 1e9), "matmul_gflops": gflops, "params": params, "steps": len(times)}


def measure_lockstep(vocab: int) -> dict:
    """``ours`` and ``hf_trainer`` in one process, alternating step by step (:class:`Baton`): the speed ratio
    of the median steps after warm-up, each step timed beside the other system's. Memory is not measured here
    (both models share the process); it comes from the separate processes of :func:`measure_one`."""
    import lightning  # noqa: F401  (imported before the threads start, not by both at once)
    import transformers.trainer  # noqa: F401

    baton, results = Baton(), {}

    def play(name: str, player: int) -> None:
        try:
            baton.take(player)  # setup (data, model) in turn too
            run_system = run_ours if name == "ours" else run_trainer
            results[name] = run_system(vocab, LOCKSTEP_STEPS[vocab], compile=name == "ours", turns=(baton, player))[0]
        finally:
            baton.finish(player)  # the other loop runs on alone, even if this one failed

    theirs = threading.Thread(target=play, args=("hf_trainer", 1))
    theirs.start()
    play("ours", 0)
    theirs.join()
    if "hf_trainer" not in results:
        raise RuntimeError("the Trainer loop failed (its traceback is above)")
    step = {name: statistics.median(times[WARMUP_STEPS:]) for name, times in results.items()}
    return {"step_s": step, "speed_ratio": step["hf_trainer"] / step["ours"],
            "steps": {name: len(times) for name, times in results.items()}}


def default_job_path() -> dict:
    """Which of our systems the main job, ``python -m ablations.train`` with ``conf/``'s defaults, trains with."""
    from hydra import compose

    from lab.config.registry import composing, validate
    from lab.train.compile_policy import should_compile

    with composing():
        typed = validate(compose(config_name="train"))
    steps = typed.trainer.max_steps
    compiled = should_compile(typed.compile, steps, on_gpu=False)
    return {"max_steps": steps, "compile.enabled": typed.compile.enabled, "compile.auto_min_steps": typed.compile.auto_min_steps,
            "system": "ours" if compiled else "ours_eager"}


def in_subprocess(*args: str) -> dict:
    """``python -m benchmarks.trainer ARGS`` in a fresh process: its last printed line, as JSON."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.trainer", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(rounds: int) -> dict:
    runs: dict[str, dict[str, list[dict]]] = {size: {s: [] for s in SYSTEMS[vocab]} for size, vocab in SIZES.items()}
    lockstep: dict[str, list[dict]] = {size: [] for size in SIZES}
    for _ in range(rounds):
        for size, vocab in SIZES.items():
            for system in SYSTEMS[vocab]:
                runs[size][system].append(in_subprocess("--one", system, str(vocab)))
            lockstep[size].append(in_subprocess("--lockstep", str(vocab)))
    summary, default = {}, default_job_path()
    for size, systems in runs.items():
        best = {s: max(r, key=lambda x: x["tokens_per_s"]) | {k: max(x[k] for x in r) for k in ("peak_rss_mib", "training_peak_over_start_mib")}
                for s, r in systems.items()}
        summary[size] = {"best": best, "speed_ratio": best["ours"]["tokens_per_s"] / best["hf_trainer"]["tokens_per_s"],
                         "memory_ratio": best["ours"]["peak_rss_mib"] / best["hf_trainer"]["peak_rss_mib"],
                         "training_memory_ratio": best["ours"]["training_peak_over_start_mib"]
                         / best["hf_trainer"]["training_peak_over_start_mib"],
                         "speed_vs_hf_trainer": {s: best[s]["tokens_per_s"] / best["hf_trainer"]["tokens_per_s"] for s in best}}
        summary[size]["speed_ratio_lockstep"] = statistics.median(r["speed_ratio"] for r in lockstep[size])
        if default["system"] in best:  # the lockstep pairs time the compiled step
            summary[size]["default_path"] = default["system"]
            summary[size]["speed_ratio_default_path"] = summary[size]["speed_vs_hf_trainer"][default["system"]]
            if default["system"] == "ours":
                summary[size]["speed_ratio_default_path_lockstep"] = summary[size]["speed_ratio_lockstep"]
        if "hf_trainer_compile" in best:
            summary[size]["speed_ratio_compiled_both"] = best["ours"]["tokens_per_s"] / best["hf_trainer_compile"]["tokens_per_s"]
    return {"batch": [BATCH, SEQ], "optimizer": OPTIM, "default_job": default, "runs": runs, "lockstep": lockstep, "summary": summary,
            "targets": {"vocab 4,096 speed_ratio": ">= 1.2", "vocab 151,936 memory_ratio": "<= 0.5 at speed_ratio >= 1",
                        "vocab 151,936 speed_ratio_compiled_both": ">= 1.2"}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trainer", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of separate-process measurements (default 2)")
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "VOCAB"), help="measure one system in this process (internal)")
    parser.add_argument("--lockstep", type=int, metavar="VOCAB", help="the alternating-steps measurement only (internal)")
    parser.add_argument("--steps", type=int, help="with --one: this many steps (a smoke run; tests use 2)")
    parser.add_argument("--smoke", action="store_true", help="the smallest path: our loop and the Trainer's, 2 steps each at the "
                        "4,096 vocabulary, in this process; writes no result")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke = {system: measure_one(system, 4096, steps=2) for system in ("ours_eager", "hf_trainer")}
        print_table("training step, smoke run (not written)", ["system", "tokens/s", "steps"],
                    [[s, r["tokens_per_s"], r["steps"]] for s, r in smoke.items()])
        return
    if args.one:
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.steps)))
        return
    if args.lockstep:
        print(json.dumps(measure_lockstep(args.lockstep)))
        return
    result = run(args.rounds)
    path = write_result("trainer", result)
    rows = []
    for size, s in result["summary"].items():
        for system, r in s["best"].items():
            rows.append([size, system, r["tokens_per_s"], r["peak_rss_mib"], r["training_peak_over_start_mib"], r["mfu"]])
        rows.append([size, "ours / Trainer", s["speed_ratio"], s["memory_ratio"], s["training_memory_ratio"], ""])
        rows.append([size, "ours / Trainer, alternating steps in one process", s["speed_ratio_lockstep"], "", "", ""])
        if "speed_ratio_compiled_both" in s:
            rows.append([size, "ours / Trainer, both compiled", s["speed_ratio_compiled_both"], "", "", ""])
        if "default_path" in s:
            rows.append([size, f"the main job's default path ({s['default_path']}) / Trainer",
                         s.get("speed_ratio_default_path_lockstep", s["speed_ratio_default_path"]), "", "", ""])
    print_table(f"training step vs transformers.Trainer -> {path}",
                ["model", "system", "tokens/s", "process peak RSS (MiB)", "training peak over its start (MiB)", "MFU"], rows)


if __name__ == "__main__":
    main()
