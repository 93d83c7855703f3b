"""The gate training values checked before a gate run writes anything (added to the training rules of
:mod:`lab.config.checks` through ``GateTraining.config_rules``): a wrong one is one line naming the key."""

import math

from lab.config.checks import Rules
from lab.config.schema import betas, integer, number

GATE_RULES: Rules = {
    "gates.lr": (number(0, low_open=True), "a positive finite number"),
    "gates.betas": (betas, "two numbers in [0, 1), e.g. [0.9, 0.999]"),
    "gates.beta": (number(0), "a non-negative number (the forget margin)"),
    "gates.lambda_forget": (number(0), "a non-negative number"),
    "gates.lambda_retain": (number(0), "a non-negative number"),
    "gates.temperature": (number(0, low_open=True), "a positive number"),
    "gates.retain_per_forget": (integer(1), "a positive integer"),
    "gates.epochs": (integer(1), "a positive integer"),
    "gates.kl_chunk_size": (integer(1), "a positive integer"),
    "gates.warmup_steps": (integer(0), "a non-negative integer"),
    "gates.min_lr_ratio": (number(0, 1), "a number in [0, 1]"),
    "gates.init_logit": (number(-math.inf), "a finite number"),
    "gates.default_threshold": (number(0, 1, low_open=True, high_open=True), "a number in (0, 1)"),
}
