"""The one alignment-picture renderer (TensorBoard, MLflow, Telegram, the demo, `tacotron
diagnose`): matplotlib only lends its colour map and font."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.font_manager
import numpy as np


def alignment_png(alignments: list[tuple[str, np.ndarray]], suptitle: str = "",
                  cell: int = 3) -> bytes:
    """The alignments as one PNG, panels side by side: viridis colours, input symbols up, decoder
    steps across, each cell `cell` pixels, a title line above each panel. Drawn with a colour
    table and Pillow instead of a matplotlib figure (about 100x faster, and thread-safe), so a
    monitoring sink can make one per validation on a background thread without slowing
    training."""
    from PIL import Image, ImageDraw, ImageFont

    # DejaVu Sans ships with matplotlib and has Cyrillic; Pillow's built-in font has not.
    font = ImageFont.truetype(matplotlib.font_manager.findfont("DejaVu Sans"), 11)
    table = (matplotlib.colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3] * 255)
    table = table.astype(np.uint8)
    title_height, gap = 14, 8
    panels = []
    for title, alignment in alignments:
        values = np.clip(np.nan_to_num(np.asarray(alignment, dtype=np.float32).T), 0.0, 1.0)
        pixels = table[(values[::-1] * 255).astype(np.uint8)]  # row 0 = last symbol (top)
        pixels = pixels.repeat(cell, axis=0).repeat(cell, axis=1)
        panels.append((title, pixels))
    top = title_height * (2 if suptitle else 1)
    width = sum(pixels.shape[1] for _, pixels in panels) + gap * (len(panels) + 1)
    height = max(pixels.shape[0] for _, pixels in panels) + top + gap
    canvas = Image.new("RGB", (max(width, 200), height), "white")
    draw = ImageDraw.Draw(canvas)
    if suptitle:
        draw.text((gap, 1), suptitle[:120], fill="black", font=font)
    x = gap
    for title, pixels in panels:
        draw.text((x, top - title_height + 1), title, fill="black", font=font)
        canvas.paste(Image.fromarray(pixels), (x, top))
        x += pixels.shape[1] + gap
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
