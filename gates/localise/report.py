"""The localisation benchmark's summary over seeds, its table, its figure and its published blocks.

Per (method, edit) and metric, one value per seed (the random control: the mean of its draws), summarised as the
mean and the 95 % Student-t interval over seeds (:func:`lab.report.intervals.stat`). Every method of a seed edits
the same model and is graded on the same facts, so contrasts are paired by seed
(:func:`lab.report.intervals.paired`): the mean over seeds of (method − reference) with the paired t interval of
those per-seed differences. Each table of contrasts is one family: a method beats a reference on a metric only
when its contrast survives Holm's correction across that table at α = 0.05 (:func:`apply_families`; the contrasts
table for held-out and other-relation recall against the trained random gates, random neurons and the gates, the
budgets table, the relearning table). The publisher restates a committed JSON from its per-seed results
(:func:`restate`), so the blocks show the current statistics. The main
tables are at the run's ``budget``; ``budgets`` holds every graded share (:func:`budget_rows`).
``python -m gates.localise publish=true`` copies ``benchmark.json`` to ``docs/results/localise/<publish_as>.json``
(``benchmark``; another name, e.g. ``benchmark_continent``, keeps a second run, such as another forget relation,
beside it) and rewrites the ``<!-- localise:<publish_as>:<block> -->`` blocks of README.md and docs/gates.md;
``python -m gates.localise.report --check`` exits 1 when a block differs from its committed JSON (the test suite
runs that check).
"""

import argparse
import shutil
import statistics
import sys
from pathlib import Path

from gates.schema import graded_budgets
from lab.config import PROJECT_ROOT
from lab.config.errors import UserError, exit_on_user_error
from lab.report.families import adjust, verdict
from lab.report.intervals import paired as paired_t
from lab.report.intervals import stat
from lab.report.markers import rewrite_docs
from lab.runs.artifacts import read_json, write_json

ROOT = PROJECT_ROOT
RESULTS = ROOT / "docs" / "results" / "localise"
PUBLISHED = RESULTS / "benchmark.json"  # the default run's: forget relation capital
DOCS = (ROOT / "README.md", ROOT / "docs" / "gates.md")
FIGURES = ROOT / "docs" / "figures"
METRICS = ("forget_recall", "held_out_recall", "other_recall", "reasoning_acc")
TITLES = {"forget_recall": "forget facts", "held_out_recall": "held-out facts", "other_recall": "other relations",
          "reasoning_acc": "arithmetic", "probe_acc": "probe, forget facts"}
CONTROLS = ("trained_random", "random")
REFERENCES = (*CONTROLS, "gates")  # what each method's held-out and other-relation recall is contrasted with
STATEMENTS = tuple(f"statement_{name}_recall" for name in ("forget", "held_out", "other"))
BUDGET_METRICS = ("fraction_edited", "held_out_recall", "other_recall", "forget_recall", "reasoning_acc", "statement_held_out_recall")


def at_budget(seeds: list[dict], budget: float | None) -> list[dict]:
    """Each seed's result with the settings graded at ``budget`` and the unedited model's (``budget`` null; a
    setting from before budgets were graded is at the run's budget, which is the one this is asked for)."""
    return [{**r, "settings": [s for s in r["settings"] if s.get("budget", budget) in (None, budget)]} for r in seeds]


def curves(setting: dict) -> dict[str, dict[str, float]]:
    """A setting's relearning curves per attack (a benchmark of one attack stored its ``held_out`` curve alone)."""
    found = setting.get("relearn", {})
    return found if all(isinstance(v, dict) for v in found.values()) else {"held_out": found}


def value(setting: dict, key: str) -> float | None:
    """``key`` of one setting: a metric, or ``relearn/<attack>/<k>``, forget recall after k steps of that attack."""
    if key.startswith("probe/"):
        layers = setting.get("probe") or []
        return layers[int(key.split("/")[1])] if int(key.split("/")[1]) < len(layers) else None
    if not key.startswith("relearn/"):
        return setting.get(key)
    _, attack, step = key.split("/")
    return curves(setting).get(attack, {}).get(step)


def per_seed(seeds: list[dict], method: str, mode: str, key: str) -> list[float]:
    """One value of ``key`` (:func:`value`) per seed for (method, mode); draws are averaged."""
    values = []
    for result in seeds:
        picked = [value(s, key) for s in result["settings"] if s["method"] == method and s["mode"] == mode]
        picked = [v for v in picked if v is not None]
        if picked:
            values.append(statistics.fmean(picked))
    return values


def paired(a: list[float], b: list[float]) -> dict:
    """``mean(a − b)`` over seeds paired by position with the paired t interval; no value (``mean`` None) when the
    two sides do not have one value per seed each."""
    return paired_t(a, b) if len(a) == len(b) else stat([])


def relearn_contrasts(seeds: list[dict], settings: list[tuple[str, str]], attacks: list[str], step: str) -> list[dict]:
    """Per edited (method, mode) and attack it ran, paired over seeds at ``step``: forget recall regained since step 0
    (``recovered``), its gap to the unedited model under the same attack (``minus_unedited``), and, for the
    held-out attacks, how much more they restore than the unrelated-text control (``minus_unrelated``) and than
    the other relations' facts, the same-template control (``minus_other_facts``)."""
    rows = []
    for method, mode in settings:
        if method == "none":
            continue
        for attack in attacks:
            at = per_seed(seeds, method, mode, f"relearn/{attack}/{step}")
            if not at:
                continue  # an attack that does not apply to this edit (the rank-1 edit has no frozen one)
            row = {"method": method, "mode": mode, "attack": attack, "step": step,
                   "start": stat(per_seed(seeds, method, mode, f"relearn/{attack}/0")), "end": stat(at),
                   "recovered": paired(at, per_seed(seeds, method, mode, f"relearn/{attack}/0")),
                   "minus_unedited": paired(at, per_seed(seeds, "none", "none", f"relearn/{attack}/{step}"))}
            for control in ("unrelated", "other_facts"):
                if attack.startswith("held_out") and control in attacks:
                    row[f"minus_{control}"] = paired(at, per_seed(seeds, method, mode, f"relearn/{control}/{step}"))
            rows.append(row)
    return rows


def budget_rows(cfg: dict, seeds: list[dict]) -> list[dict]:
    """Per graded budget and edited (method, mode): :data:`BUDGET_METRICS` with intervals, and held-out and
    other-relation recall minus random neurons' at the same budget (paired by seed)."""
    rows = []
    for budget in graded_budgets(cfg):
        view = at_budget(seeds, budget)
        for method, mode in sorted({(s["method"], s["mode"]) for r in view for s in r["settings"] if s["method"] != "none"}):
            row = {"budget": budget, "method": method, "mode": mode, **{k: stat(per_seed(view, method, mode, k)) for k in BUDGET_METRICS}}
            if method != "random":
                row |= {f"{k}_minus_random": paired(per_seed(view, method, mode, k), per_seed(view, "random", "hard", k))
                        for k in ("held_out_recall", "other_recall")}
            rows.append(row)
    return rows


def summarize(cfg: dict, seeds: list[dict]) -> dict:
    """The JSON of the benchmark: settings' summaries with intervals, contrasts, overlaps, and the rule."""
    every_budget, seeds = seeds, at_budget(seeds, float(cfg["budget"]))
    settings = sorted({(s["method"], s["mode"]) for r in seeds for s in r["settings"]}, key=lambda s: (s[0] != "none", s))
    steps = [str(k) for k in cfg["relearn"]["steps"]]
    attacks = list(cfg["relearn"].get("attacks", ["held_out"]))
    relations = sorted({k for r in seeds for s in r["settings"] for k in s if k.startswith("recall/")})
    tasks = sorted({k for r in seeds for s in r["settings"] for k in s if "/" in k and not k.startswith("recall/")})
    layers = max((len(s.get("probe") or []) for r in seeds for s in r["settings"]), default=0)
    probes = ["probe_acc", *(f"probe/{layer}" for layer in range(layers))] if layers else []
    statements = [k for k in STATEMENTS if any(k in s for r in seeds for s in r["settings"])]
    keys = [*METRICS, *statements, *probes, *relations, *tasks, *(f"relearn/{a}/{k}" for a in attacks for k in steps)]
    rows = [{"method": m, "mode": e, **{k: stat(per_seed(seeds, m, e, k)) for k in keys}} for m, e in settings]
    contrasts = [{"method": m, "mode": e, "control": c, "control_mode": "hard", "paired": True,
                  **{k: paired(per_seed(seeds, m, e, k), per_seed(seeds, c, "hard", k)) for k in ("held_out_recall", "other_recall")}}
                 for m, e in settings if m not in ("none", *CONTROLS) for c in REFERENCES if (c, "hard") in settings and c != m]
    runs = sorted({name for r in seeds for name in r.get("training", {})})
    trained = {name: {k: stat([r["training"][name][k] for r in seeds if name in r.get("training", {})])
                      for k in ("steps", "entity_ce_first", "entity_ce_last")} for name in runs}
    pairs = sorted({p for r in seeds for p in r["overlap"]})
    overlap = {p: stat([r["overlap"][p]["all"] for r in seeds if p in r["overlap"]]) for p in pairs}
    report = {"rule": {k: cfg[k] for k in ("seeds", "budget", "methods", "modes", "random_draws", "train")}
            | {"budgets": cfg.get("budgets") or [], "relearn": cfg["relearn"]}, "statements": statements,
            "budgets": budget_rows(cfg, every_budget),
            "facts": seeds[0]["facts"], "relations": seeds[0]["relations"], "num_neurons": seeds[0]["num_neurons"],
            "training": trained, "relearn_steps": steps, "relearn_attacks": attacks,
            "probe": {"layers": layers, "layer": seeds[0]["settings"][0].get("probe_layer")} if layers else None,
            "relearn_contrasts": relearn_contrasts(seeds, settings, attacks, str(cfg["relearn"].get("contrast_step", steps[-1]))),
            "relations_graded": [k.removeprefix("recall/") for k in relations], "lm_eval_metrics": tasks, "summary": rows,
            "contrasts": contrasts, "overlap": overlap, "per_seed": every_budget}
    return apply_families(report)


SEED_T = "(mean [95 % t] over seeds)"  # every per-setting table's header says which interval it shows
EXPLORATORY = ("Exploratory: this configuration was not registered before the run; its contrasts are paired by seed and "
               "claimed only after Holm's correction across their table.")
RELEARN_CONTRASTS = ("recovered", "minus_unedited", "minus_unrelated", "minus_other_facts")


def apply_families(report: dict) -> dict:
    """Holm across each table of contrasts (``p_holm`` and ``shown`` in each): the method contrasts, the budgets'
    minus-random columns and the relearning contrasts; returns ``report``."""
    adjust(c[k] for c in report["contrasts"] for k in ("held_out_recall", "other_recall"))
    adjust(r[k] for r in report.get("budgets") or [] for k in ("held_out_recall_minus_random", "other_recall_minus_random") if k in r)
    adjust(c[k] for c in report.get("relearn_contrasts") or [] for k in RELEARN_CONTRASTS if k in c)
    return report


def restate(report: dict) -> dict:
    """A committed report recomputed from its per-seed results and rule with the current statistics."""
    return summarize(report["rule"], report["per_seed"])


def cell(value: dict, percent: bool = True) -> str:
    """``mean [low, high]``, in % with ``percent``; the t interval of a mean rate is clipped to [0, 100] (the rate's
    own range: clipping keeps its coverage), never that of a difference."""
    if value["mean"] is None:
        return "-"
    fmt = (lambda x: f"{100 * x:.1f}") if percent else (lambda x: f"{x:.2f}")
    if not value["ci"]:
        return fmt(value["mean"])
    low, high = value["ci"]
    if percent and value.get("method") == "t":
        low, high = max(low, 0.0), min(high, 1.0)
    return f"{fmt(value['mean'])} [{fmt(low)}, {fmt(high)}]"


def percent(x: float | None) -> str:
    """A share in % to one decimal; ``-`` where the setting has no value (e.g. an attack that does not apply to it)."""
    return "-" if x is None else f"{100 * x:.1f}"


def claim(value: dict) -> str:
    """Whether a difference is claimed: only when it survives Holm's correction across its table (raw and adjusted
    p beside the verdict)."""
    return verdict(value)


def training_table(report: dict) -> str:
    """Each gate run's steps and the forget answers' cross-entropy (nats) at its first and last step."""
    lines = ["| gate run | steps | answer CE, first step [95 % t] | answer CE, last step [95 % t] |", "|---|---|---|---|"]
    lines += [f"| {name} | {t['steps']['mean']:.0f} | {cell(t['entity_ce_first'], percent=False)} | "
              f"{cell(t['entity_ce_last'], percent=False)} |" for name, t in report.get("training", {}).items()]
    return "\n".join(lines)


def lm_eval_table(report: dict) -> str:
    """Every lm-eval metric (``tasks``) per method and edit, mean [95 % t interval] over seeds, as lm-eval reports it."""
    metrics = report.get("lm_eval_metrics", [])
    if not metrics:
        return "No lm-eval tasks in this benchmark (`tasks=[...]`)."
    lines = [f"| method {SEED_T} | edit | " + " | ".join(metrics) + " |", "|" + "---|" * (2 + len(metrics))]
    lines += [f"| {r['method']} | {r['mode']} | " + " | ".join(cell(r[m], percent=False) for m in metrics) + " |"
              for r in report["summary"]]
    return "\n".join(lines)


def budgets_table(report: dict) -> str:
    """Per graded budget and edited (method, edit): the share of neurons (gate rows) it edited, held-out,
    other-relation and forget recall and arithmetic, and held-out and other recall minus random neurons' at the
    same budget (paired by seed)."""
    rows = report.get("budgets") or []
    if not rows:
        return "One budget in this report (`budgets=[...]` grades more)."
    lines = [f"| budget | method {SEED_T} | edit | share edited | held-out | other relations | forget | arithmetic | held-out minus random "
             "[95 % paired t] | claimed (Holm across this table) | other minus random [95 % paired t] | claimed |", "|" + "---|" * 12]
    for r in rows:
        minus = [r.get("held_out_recall_minus_random"), r.get("other_recall_minus_random")]
        extra = " | ".join(f"{cell(m)} | {claim(m)}" if m else "- | -" for m in minus)
        lines.append(f"| {r['budget']:.0%} | {r['method']} | {r['mode']} | {cell(r['fraction_edited'])} | {cell(r['held_out_recall'])} | {cell(r['other_recall'])} | "
                     f"{cell(r['forget_recall'])} | {cell(r['reasoning_acc'])} | {extra} |")
    return "\n".join(lines)


def statements_table(report: dict) -> str:
    """Recall (%) of each set asked as a statement (``The capital of France is``) instead of the graded Q/A prompt."""
    keys = report.get("statements") or []
    if not keys:
        return "No statement grading in this report."
    names = {"statement_forget_recall": "forget", "statement_held_out_recall": "held-out", "statement_other_recall": "other relations"}
    lines = [f"| method {SEED_T} | edit | " + " | ".join(f"{names[k]}, as statements" for k in keys) + " |", "|" + "---|" * (2 + len(keys))]
    lines += [f"| {r['method']} | {r['mode']} | " + " | ".join(cell(r[k]) for k in keys) + " |" for r in report["summary"]]
    return "\n".join(lines)


def main_attack(report: dict) -> str:
    """The attack of the main table's relearning columns: ``held_out`` where it ran, else the first that did."""
    attacks = report.get("relearn_attacks", ["held_out"])
    return "held_out" if "held_out" in attacks else attacks[0]


def relearning_tables(report: dict) -> tuple[str, str]:
    """Forget recall under each attack after each step count; the paired contrasts at the declared step."""
    steps, attacks = report["relearn_steps"], report.get("relearn_attacks", ["held_out"])
    lines = [f"| method {SEED_T} | edit | attack | " + " | ".join(f"step {k}" for k in steps) + " |", "|" + "---|" * (3 + len(steps))]
    lines += [f"| {row['method']} | {row['mode']} | {attack} | " + " | ".join(cell(row[f"relearn/{attack}/{k}"]) for k in steps) + " |"
              for row in report["summary"] for attack in attacks]
    contrasts = report.get("relearn_contrasts", [])
    if not contrasts:
        return "\n".join(lines), "No relearning contrasts in this report."
    k = contrasts[0]["step"]
    head = [f"| method | edit | attack | recall at step {k} | regained since step 0 (points) [95 % paired t] | claimed (Holm "
            f"across this table) | minus unedited, same attack [95 % paired t] | claimed | minus the unrelated-text attack [95 % paired t] | "
            f"claimed | minus the other relations' facts (same template) [95 % paired t] | claimed |", "|" + "---|" * 12]
    for c in contrasts:
        controls = [c.get("minus_unrelated"), c.get("minus_other_facts")]
        head.append(f"| {c['method']} | {c['mode']} | {c['attack']} | {cell(c['end'])} | {cell(c['recovered'])} | "
                    f"{claim(c['recovered'])} | {cell(c['minus_unedited'])} | {claim(c['minus_unedited'])} | "
                    + " | ".join(f"{cell(x)} | {claim(x)}" if x else "- | -" for x in controls) + " |")
    return "\n".join(lines), "\n".join(head)


def main_table(report: dict) -> str:
    """Recall and arithmetic (%) per method and edit, and forget recall after each relearning step count."""
    steps = report["relearn_steps"]
    metrics = [*METRICS, "probe_acc"] if report.get("probe") else list(METRICS)
    head = [f"method {SEED_T}", "edit", *(TITLES[m] for m in metrics), *(f"forget, relearn {k}" for k in steps if k != "0")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["summary"]:
        cells = [row["method"], row["mode"], *(cell(row[m]) for m in metrics), *(cell(row[f"relearn/{main_attack(report)}/{k}"]) for k in steps if k != "0")]
        lines.append("| " + " | ".join(cells) + " |")
    n = len(report["rule"]["seeds"])
    intro = (f"{n} seeds; {report['rule']['budget']:.0%} of {report['num_neurons']:,} FFN neurons edited; forget relations "
             f"{', '.join(report['relations'])}: {report['facts']['forget']} forget, {report['facts']['held_out']} held-out, "
             f"{report['facts']['other']} other facts. Recall and accuracy in %, mean [95 % Student-t interval "
             f"over the {n} seeds, clipped to [0, 100]]. {EXPLORATORY}")
    return intro + "\n\n" + "\n".join(lines)


def contrasts_table(report: dict) -> str:
    """Held-out and other-relation recall minus each reference's, paired by seed, with their Holm verdicts."""
    contrast = ["| method | edit | minus | held-out recall: difference (points) [95 % paired t] | claimed (Holm across this "
                "table) | other relations: difference [95 % paired t] | claimed |", "|---|---|---|---|---|---|---|"]
    for c in report["contrasts"]:
        h, o = c["held_out_recall"], c["other_recall"]
        contrast.append(f"| {c['method']} | {c['mode']} | {c['control']} ({c['control_mode']}) | {cell(h)} | {claim(h)} | "
                        f"{cell(o)} | {claim(o)} |")
    return "\n".join(contrast)


def readme_lines(report: dict) -> str:
    """The hard edits' line each, for README.md."""
    rows = {(r["method"], r["mode"]): r for r in report["summary"]}
    later = [k for k in report["relearn_steps"] if k != "0"]
    delete = ""
    if ("gate3_delete", "rank1") in rows:
        touched = [r["fraction_edited"] for r in report.get("budgets") or []
                   if r["method"] == "gate3_delete" and r["budget"] == report["rule"]["budget"]]
        delete = f" (the rank-1 DELETE: {cell(touched[0])} % of gate rows)" if touched else " (the rank-1 DELETE: at most that many gate rows)"
    readme = [f"{report['rule']['budget']:.0%} of FFN neurons edited (hard){delete}, {len(report['rule']['seeds'])} seeds; recall and "
              "accuracy in %, mean [95 % Student-t interval over seeds, clipped to [0, 100]]; forget recall after relearning (the "
              f"attack named): means (intervals in docs/gates.md). {EXPLORATORY}", ""]
    for method in ("none", "gates", "trained_random", "attribution", "gate3_attribution", "vindex_features", "random", "gate3_delete"):
        row = rows.get((method, {"none": "none", "gate3_delete": "rank1"}.get(method, "hard")))
        if row:
            readme.append(f"- `{method}`: held-out {cell(row['held_out_recall'])}, forget {cell(row['forget_recall'])}, other "
                          f"relations {cell(row['other_recall'])}, arithmetic {cell(row['reasoning_acc'])}; after "
                          f"{'/'.join(later)} steps of the {main_attack(report)} attack " + " / ".join(percent(row[f"relearn/{main_attack(report)}/{k}"]["mean"]) for k in later))
    return "\n".join(readme)


def relations_table(report: dict) -> str:
    names = report.get("relations_graded", [])
    per_relation = [f"| method {SEED_T} | edit | " + " | ".join(names) + " |", "|" + "---|" * (2 + len(names))]
    per_relation += [f"| {r['method']} | {r['mode']} | " + " | ".join(cell(r[f"recall/{x}"]) for x in names) + " |"
                     for r in report["summary"]]
    return "\n".join(per_relation)


def overlap_table(report: dict) -> str:
    share = report["rule"]["budget"]
    overlap = [f"Two random sets of {share:.0%} of the neurons overlap by {share / (2 - share):.3f} (Jaccard) on average.", "",
               "| neuron sets | Jaccard [95 % t] |", "|---|---|"]
    overlap += [f"| {pair.replace('~', ' vs ')} | {cell(value, percent=False)} |" for pair, value in report["overlap"].items()]
    return "\n".join(overlap)


def probe_table(report: dict) -> str:
    probe = report.get("probe")
    if not probe:
        return "No linear probe in this report."
    lines = [f"Accuracy of the linear probe on the forget facts (%), fitted on the held-out facts' residual stream after "
             f"each layer (0: the embeddings; {probe['layers'] - 1}: after the final norm); the main table shows layer "
             f"{probe['layer']}, fixed before the run.", "",
             f"| method {SEED_T} | edit | " + " | ".join(f"layer {i}" for i in range(probe["layers"])) + " |",
             "|" + "---|" * (2 + probe["layers"])]
    lines += [f"| {r['method']} | {r['mode']} | " + " | ".join(cell(r[f"probe/{i}"]) for i in range(probe["layers"])) + " |"
              for r in report["summary"]]
    return "\n".join(lines)


def tables(report: dict) -> dict[str, str]:
    """Every generated block of a report: ``table`` (:func:`main_table`), ``contrasts`` (paired by seed), ``overlap``,
    ``readme`` (the hard edits' line each), ``relations``, ``training``, ``relearning`` and ``relearn_contrasts``
    (:func:`relearning_tables`), ``probe``, ``lm_eval``, ``budgets``, ``statements``."""
    relearning, relearn_contrasts = relearning_tables(report)
    return {"table": main_table(report), "contrasts": contrasts_table(report), "overlap": overlap_table(report),
            "readme": readme_lines(report), "relations": relations_table(report), "training": training_table(report),
            "relearning": relearning, "relearn_contrasts": relearn_contrasts, "probe": probe_table(report),
            "lm_eval": lm_eval_table(report), "budgets": budgets_table(report), "statements": statements_table(report)}


def half_widths(value: dict) -> list[list[float]]:
    """Matplotlib's error bar of a mean and its interval (0 without one): [[below], [above]]."""
    low, high = value["ci"] or (value["mean"], value["mean"])
    return [[value["mean"] - low], [high - value["mean"]]]


def figure(report: dict, path: Path) -> None:
    """Efficacy (held-out recall lost) against collateral (other relations' recall lost), per method and edit, with
    the intervals over seeds; forget recall against relearning steps; held-out recall against the share edited."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = next(r for r in report["summary"] if r["method"] == "none")
    fig, (left, right, shares) = plt.subplots(1, 3, figsize=(16, 4.2))
    for row in report["summary"]:
        if row["method"] == "none":
            continue
        x = base["other_recall"]["mean"] - row["other_recall"]["mean"]
        y = base["held_out_recall"]["mean"] - row["held_out_recall"]["mean"]
        left.errorbar([x], [y], xerr=half_widths(row["other_recall"]), yerr=half_widths(row["held_out_recall"]), fmt="o",
                      capsize=3, label=f"{row['method']} ({row['mode']})")
    left.set(xlabel="collateral: other relations' recall lost", ylabel="efficacy: held-out recall lost",
             title=f"{report['rule']['budget']:.0%} of FFN neurons edited")
    left.axhline(0, color="grey", lw=0.5), left.axvline(0, color="grey", lw=0.5), left.legend(fontsize=7)
    steps = [int(k) for k in report["relearn_steps"]]
    styles = {"held_out": "-", "held_out_frozen": "--", "unrelated": ":", "other_facts": "-."}
    for row in report["summary"]:
        shown = report.get("relearn_attacks", ["held_out"]) if (row["method"], row["mode"]) in (("none", "none"), ("gates", "hard")) else [main_attack(report)]
        for attack in shown:
            means = [row[f"relearn/{attack}/{k}"]["mean"] for k in report["relearn_steps"]]
            right.plot(steps, means, marker="o", linestyle=styles.get(attack, "-"), label=f"{row['method']} ({row['mode']}), {attack}")
    right.set(xlabel="relearning steps", ylabel="forget-fact recall",
              title="relearning (-: held-out facts, --: edit frozen, :: unrelated text, -.: other relations' facts)")
    right.legend(fontsize=7)
    for method, mode in dict.fromkeys((r["method"], r["mode"]) for r in report.get("budgets") or [] if r["mode"] != "soft"):
        points = [r for r in report["budgets"] if (r["method"], r["mode"]) == (method, mode)]
        shares.errorbar([r["budget"] for r in points], [r["held_out_recall"]["mean"] for r in points], marker="o", capsize=3,
                        yerr=[[half_widths(r["held_out_recall"])[side][0] for r in points] for side in (0, 1)],
                        label=f"{method} ({mode})")
    shares.axhline(base["held_out_recall"]["mean"], color="grey", lw=0.5, ls="--")
    shares.set(xscale="log", xlabel="share of FFN neurons edited", ylabel="held-out recall", title="efficacy against budget")
    shares.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def published() -> dict[str, Path]:
    """Every published run: ``{name: docs/results/localise/<name>.json}`` (names ``benchmark`` and ``benchmark_*``)."""
    return {path.stem: path for path in sorted(RESULTS.glob("benchmark*.json"))}


def publish(report_file: Path, name: str) -> list[Path]:
    """Copy ``report_file`` to ``docs/results/localise/<name>.json`` and its figure to
    ``docs/figures/localise_<name>.png``; rewrite the docs' blocks."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report_file, RESULTS / f"{name}.json")
    shutil.copyfile(report_file.with_suffix(".png"), FIGURES / f"localise_{name}.png")
    return update_docs()


def update_docs(check: bool = False) -> list[Path]:
    """The docs whose blocks differ from the committed JSONs (rewritten unless ``check``): block ``localise:<name>:<b>``
    is table ``b`` of ``<name>.json``."""
    blocks = {(name, block): body for name, path in published().items() for block, body in tables(restate(read_json(path))).items()}
    return rewrite_docs(DOCS, "localise", blocks, lambda name, block: f"marker localise:{name}:{block} has no block", check)


def write_report(cfg: dict, seeds: list[dict], out: Path, publish_as: str | None = None) -> dict:
    """``benchmark.json``, ``benchmark.md`` and ``benchmark.png`` into ``out``; with ``publish_as``, :func:`publish`
    under that name."""
    report = summarize(cfg, seeds)
    write_json(out / "benchmark.json", report)
    blocks = tables(report)
    (out / "benchmark.md").write_text("# Knowledge localisation benchmark\n\n" + "\n\n".join(
        body for name, body in blocks.items() if name != "readme") + "\n")
    figure(report, out / "benchmark.png")
    print(blocks["table"] + "\n\n" + blocks["contrasts"])
    if publish_as:
        publish(out / "benchmark.json", publish_as)
    return report


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gates.localise.report", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a published block differs from the committed JSON")
    args = parser.parse_args(argv)
    if not PUBLISHED.is_file():
        raise UserError(f"no published benchmark at {PUBLISHED}: run python -m gates.localise publish=true")
    stale = update_docs(check=args.check)
    for doc in stale:
        print(f"{'stale' if args.check else 'rewritten'}: {doc}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
