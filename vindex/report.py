"""Report of a vindex folder (``index.json`` + ``down_meta.bin``; ``constants.json`` / ``gate3.json`` when measured).

Figures: the per-layer constants (C1 near-zero fraction, C4 norm ratio per layer; C3 and the CKA between
consecutive layers per transition, see :mod:`vindex.constants` for their definitions) and the Gate 3
probabilities of the target and control tokens before and after the rank-1 DELETE patch, per layer.
"""

from pathlib import Path

from lab.report.plots import finish_figure, plt
from lab.runs.artifacts import read_json
from lab.runs.folder_kinds import FolderKind
from vindex.format import is_vindex_folder

__all__ = ["FOLDER_KIND", "constants_plot", "gate3_plot", "is_vindex_folder", "report", "verify_vindex"]


def constants_plot(constants: dict, path: Path) -> Path:
    per_layer = constants["per_layer"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, marker in (("C1", "o-"), ("C4", "s-")):
        if per_layer.get(key):
            ax.plot(range(len(per_layer[key])), per_layer[key], marker, label=f"{key} (layer l)")
    for key, marker in (("C3", "^--"), ("CKA", "d--")):
        if per_layer.get(key):
            ax.plot([i + 0.5 for i in range(len(per_layer[key]))], per_layer[key], marker, label=f"{key} (l → l+1)")
    return finish_figure(fig, ax, path, title="vindex constants per layer", xlabel="layer")


def gate3_plot(gate3: dict, path: Path) -> Path:
    layers = gate3["layers"]
    names = [f"L{r['layer']}" for r in layers]
    series = {"P(target) before": "p_target_before", "P(target) after": "p_target_after",
              "P(control) before": "p_control_before", "P(control) after": "p_control_after"}
    width = 0.2
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names)), 4))
    for j, (label, key) in enumerate(series.items()):
        ax.bar([i + (j - 1.5) * width for i in range(len(names))], [r[key] for r in layers], width, label=label,
               color=f"C{j // 2}", alpha=1.0 if j % 2 == 0 else 0.5)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.3)
    verdict = "PASS" if gate3["passed"] else "FAIL"
    return finish_figure(fig, ax, path, title=f"Gate 3 DELETE of {gate3['target']!r} ({gate3['num_neurons']} neuron(s)): {verdict}",
                         xlabel="layer", ylabel="next-token probability", grid_axis="y", ncol=2, loc="upper center")


def report(folder: Path, out: Path) -> str:
    folder = Path(folder)
    index = read_json(folder / "index.json")
    parts = [f"# Vindex report: {folder.name}",
             f"`{index['model']}`: {index['num_layers']} layers × {index.get('num_feats')} features, hidden {index['hidden_size']}, "
             f"vocab {index['vocab_size']}."]
    if (folder / "constants.json").is_file():
        constants = read_json(folder / "constants.json")
        constants_plot(constants, out / "constants.png")
        parts += ["## Constants", "| constant | value |\n|---|---|\n" + "\n".join(
            f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in constants["summary"].items()),
            "![constants per layer](constants.png)"]
    else:
        parts += ["## Constants", f"Not measured yet: `python -m vindex.constants out={folder}`."]
    if (folder / "gate3.json").is_file():
        gate3 = read_json(folder / "gate3.json")
        best = gate3["best"]
        gate3_plot(gate3, out / "gate3.png")
        parts += ["## Gate 3", f"**{'PASS' if gate3['passed'] else 'FAIL'}**: best layer {best['layer']}, P({gate3['target']!r}) "
                  f"{best['p_target_before']:.3f} → {best['p_target_after']:.3f} (drop {best['drop']:.1%}), control "
                  f"{best['p_control_before']:.3f} → {best['p_control_after']:.3f} (collateral {best['collateral']:.1%}).",
                  "![Gate 3 probabilities](gate3.png)"]
    return "\n\n".join(parts) + "\n"


def verify_vindex(folder: Path) -> None:
    """A vindex's own checks beyond SHA256SUMS: file sizes against index.json, down_meta header."""
    from vindex.reader import verify

    verify(folder, checksums=False)


FOLDER_KIND = FolderKind("vindex", "a vindex (index.json)", is_vindex_folder, report, verify=verify_vindex,
                         layout=lambda folder: {"": Path(folder)})  # seed 002's Hub layout: the vindex files at the root
