"""Alignment pictures for TensorBoard, the demo and reports."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def alignment_figure(alignments: list[tuple[str, np.ndarray]], suptitle: str = ""):
    """One panel per (title, [steps, N] alignment): input symbols up, decoder steps across."""
    figure = plt.figure(figsize=(5.5 * len(alignments), 4.2))
    return _draw_alignments(figure, alignments, suptitle)


def alignment_png(alignments: list[tuple[str, np.ndarray]], suptitle: str = "",
                  dpi: int = 80) -> bytes:
    """The same picture as PNG bytes. Built without pyplot, so a background thread (a monitoring
    sink) can draw while the training thread draws for TensorBoard."""
    figure = Figure(figsize=(5.5 * len(alignments), 4.2))
    FigureCanvasAgg(figure)
    _draw_alignments(figure, alignments, suptitle)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _draw_alignments(figure, alignments: list[tuple[str, np.ndarray]], suptitle: str):
    axes = figure.subplots(1, len(alignments), squeeze=False)
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
