"""``compile.enabled: auto``: compile long runs, train short ones eagerly, fall back with one line without a compiler."""

import logging
from dataclasses import replace

from lab.config.registry import validate
from lab.config.schema import CompileConfig
from lab.train.compile_policy import cxx_available, should_compile

AUTO = CompileConfig(enabled="auto", auto_min_steps=500, backend="inductor")


def test_auto_compiles_runs_long_enough_for_the_compile_to_pay():
    assert cxx_available()  # this machine (and CI's) has g++
    assert should_compile(AUTO, 1000, on_gpu=False) and should_compile(AUTO, 500, on_gpu=False)
    assert not should_compile(AUTO, 499, on_gpu=False)  # short runs and the tests train eagerly
    assert should_compile(AUTO, -1, on_gpu=False)  # bounded by epochs: a long run
    assert not should_compile(replace(AUTO, enabled=False), 10_000, on_gpu=False)
    assert should_compile(replace(AUTO, enabled=True), 10, on_gpu=False)


def test_without_a_cxx_compiler_the_run_trains_eagerly_after_one_warning(monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    assert not cxx_available()
    with caplog.at_level(logging.WARNING, logger="lab.train.compile_policy"):
        assert not should_compile(AUTO, 1000, on_gpu=False)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == ["compile.enabled: no C++ compiler on this machine for Inductor"]
    assert should_compile(replace(AUTO, backend="aot_eager"), 1000, on_gpu=False)  # needs no C++ compiler
    assert should_compile(AUTO, 1000, on_gpu=True)  # Triton builds the GPU kernels


def test_the_main_job_compiles_and_the_reference_and_short_runs_train_eagerly():
    """The rule as configured: the default job (1,200 steps) is compiled, the pinned reference recipe is eager,
    and so is any run shorter than ``compile.auto_min_steps`` (the tests' runs)."""
    from tests.conftest import compose_train

    default = validate(compose_train([]))
    assert default.compile.enabled == "auto" and default.trainer.max_steps >= default.compile.auto_min_steps
    assert should_compile(default.compile, default.trainer.max_steps, on_gpu=False)
    reference = validate(compose_train(["experiment=tiny_reference"]))
    assert not should_compile(reference.compile, reference.trainer.max_steps, on_gpu=False)
    short = validate(compose_train(["trainer.max_steps=60"]))
    assert not should_compile(short.compile, short.trainer.max_steps, on_gpu=False)


def test_benchmark_1_names_the_main_jobs_path_as_configured():
    from benchmarks.trainer import default_job_path

    assert default_job_path() == {"max_steps": 1200, "compile.enabled": "auto", "compile.auto_min_steps": 1000, "system": "ours"}
