"""Pictures for the HTML report, drawn from the numbers in the canonical JSON.

The JSON keeps only numbers (a confusion matrix, per-epoch history); the report draws them here
as PNG data URIs, so the page stays self-contained and the JSON stays small. Figures are made
with matplotlib's object API on the Agg canvas: no display, no global pyplot state.

What is drawn is bounded, and every label is plain text: the training history comes from the
student's kernel (its keys, their number and their length are the student's), and a model can
predict any number of classes. Matplotlib would read a `$` in a key as mathtext (and raise on a
broken formula), draw a legend entry for each of thousands of keys, and size a figure to a
2,000-class matrix (84,000 pixels wide).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

MAX_ANNOTATED_CLASSES = 20
MAX_CLASSES = 1_000
MAX_TICKS = 10
MAX_FIGURE_INCHES = 10.0
MAX_SERIES = 12
MAX_POINTS = 1_000
MAX_LABEL_CHARS = 40
MAX_PLOTTED_VALUE = 1e100
OTHER = "other"
OTHER_SHARE = 40


def confusion_matrix_uri(confusion: Sequence[Sequence[int]], other: Sequence[int] = ()) -> str | None:
    """The confusion matrix (rows: true label, columns: predicted), counts written in small ones.

    Predictions outside the classes are one extra column, "other", drawn when any is non-zero.
    A result from before `other` existed (a square matrix as wide as the largest prediction) is
    read the same way: each row's columns beyond the classes go to "other". At most MAX_CLASSES
    classes are drawn, "other" as wide as 1/OTHER_SHARE of them so that it shows among a thousand.
    None when there is no class to draw.
    """
    classes = min(len(confusion), MAX_CLASSES)
    if classes == 0:
        return None
    counts = np.zeros((classes, classes + 1), dtype=np.int64)
    for row, values in enumerate(confusion[:classes]):
        inside = list(values[:classes])
        counts[row, : len(inside)] = inside
        counts[row, classes] = sum(values[classes:]) + (other[row] if row < len(other) else 0)
    with_other = bool(counts[:, classes].any())
    other_width = max(1, round(classes / OTHER_SHARE)) if with_other else 0
    counts = np.hstack([counts[:, :classes], np.repeat(counts[:, classes:], other_width, axis=1)])
    columns = counts.shape[1]

    side = min(1.6 + 0.42 * columns, MAX_FIGURE_INCHES)
    figure = Figure(figsize=(side, min(1.2 + 0.42 * classes, MAX_FIGURE_INCHES)), dpi=100)
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues", interpolation="nearest", aspect="auto")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    shown = "" if classes == len(confusion) else f", the first {classes:,} of {len(confusion):,} classes"
    axes.set_title(f"confusion matrix (held-out data{shown})")
    ticks = _ticks(classes)
    axes.set_yticks(ticks)
    if with_other:
        axes.set_xticks([*ticks, classes + (other_width - 1) / 2], [*map(str, ticks), OTHER])
        axes.axvline(classes - 0.5, color="black", linewidth=0.8)
    else:
        axes.set_xticks(ticks, [str(t) for t in ticks])
    if classes <= MAX_ANNOTATED_CLASSES:
        peak = int(counts.max()) or 1
        for (row, column), count in np.ndenumerate(counts):
            if count:
                colour = "white" if count > peak / 2 else "black"
                axes.text(column, row, str(count), ha="center", va="center", fontsize=8, color=colour)
    return _data_uri(figure)


def _ticks(classes: int) -> list[int]:
    """Every class up to MAX_ANNOTATED_CLASSES; beyond, about MAX_TICKS evenly spaced ones."""
    step = 1 if classes <= MAX_ANNOTATED_CLASSES else math.ceil(classes / MAX_TICKS)
    return list(range(0, classes, step))


def training_curves_uri(history: Mapping[str, Sequence[float | None]]) -> str | None:
    """Loss and the other metrics per epoch, side by side; None when there is nothing to draw.

    At most MAX_SERIES series (the first ones: Keras records its own before a notebook can add
    any) of at most MAX_POINTS evenly spaced epochs each; the titles say what was left out.
    """
    series = [(name, values) for name, values in history.items() if values]
    if not series:
        return None
    drawn = series[:MAX_SERIES]
    losses = [(name, values) for name, values in drawn if "loss" in name]
    others = [(name, values) for name, values in drawn if "loss" not in name]
    panels = [(title, group) for title, group in (("loss", losses), ("metrics", others)) if group]
    left_out = _left_out(len(series), max(len(values) for _, values in drawn))
    figure = Figure(figsize=(5.2 * len(panels), 3.7 if left_out else 3.4), dpi=100)
    for index, (title, group) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for name, values in group:
            epochs, points = _sample(values)
            axes.plot(epochs, points, marker="o", markersize=3, label=_label(name))
        axes.set_xlabel("epoch")
        axes.set_title(f"{title} per epoch (from the notebook's fit)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    if left_out:
        figure.text(0.5, 0.01, left_out, ha="center", va="bottom", fontsize=8)
    for text in figure.findobj(Text):
        text.set_parse_math(False)
        text.set_usetex(False)
    figure.tight_layout(rect=(0, 0.06 if left_out else 0, 1, 1))
    return _data_uri(figure)


def _left_out(series: int, longest: int) -> str:
    parts = []
    if series > MAX_SERIES:
        parts.append(f"the first {MAX_SERIES} of {series:,} series")
    if longest > MAX_POINTS:
        parts.append(f"{MAX_POINTS:,} of up to {longest:,} epochs")
    return f"{' and '.join(parts)} drawn".capitalize() if parts else ""


def _sample(values: Sequence[float | None]) -> tuple[list[int], list[float]]:
    """At most MAX_POINTS (epoch, value) pairs, evenly spaced and always with the last epoch.

    A missing or implausibly large value is left out of the line (NaN): matplotlib cannot scale
    an axis from -1e308 to 1e308.
    """
    count = len(values)
    positions = (
        sorted({round(i * (count - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
        if count > MAX_POINTS
        else range(count)
    )
    points = []
    for position in positions:
        value = values[position]
        plotted = value is not None and math.isfinite(value) and abs(value) <= MAX_PLOTTED_VALUE
        points.append(float(value) if plotted and value is not None else math.nan)
    return [p + 1 for p in positions], points


def _label(name: str) -> str:
    """A history key as a legend entry: printable characters only, at most MAX_LABEL_CHARS of them."""
    printable = "".join(c if c.isprintable() else "?" for c in name)
    return printable if len(printable) <= MAX_LABEL_CHARS else printable[: MAX_LABEL_CHARS - 1] + "…"


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
