"""Alignment pictures for TensorBoard, the demo and reports."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def alignment_figure(alignments: list[tuple[str, np.ndarray]], suptitle: str = ""):
    """One panel per (title, [steps, N] alignment): input symbols up, decoder steps across."""
    figure, axes = plt.subplots(1, len(alignments), figsize=(5.5 * len(alignments), 4.2),
                                squeeze=False)
    for axis, (title, alignment) in zip(axes[0], alignments):
        image = axis.imshow(np.asarray(alignment).T, aspect="auto", origin="lower",
                            interpolation="none", vmin=0.0, vmax=1.0)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("decoder step")
        axis.set_ylabel("input symbol")
        figure.colorbar(image, ax=axis)
    if suptitle:
        figure.suptitle(suptitle, fontsize=10)
    figure.tight_layout()
    return figure


def save_alignment_png(path: Path, alignments: list[tuple[str, np.ndarray]], suptitle: str = ""):
    figure = alignment_figure(alignments, suptitle)
    figure.savefig(path, dpi=100)
    plt.close(figure)
