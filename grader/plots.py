"""Pictures for the HTML report, drawn from the numbers in the canonical JSON.

The JSON keeps only numbers (a confusion matrix, per-epoch history); the report draws them here
as PNG data URIs, so the page stays self-contained and the JSON stays small. Figures are made
with matplotlib's object API on the Agg canvas: no display, no global pyplot state.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_ANNOTATED_CLASSES = 20


def confusion_matrix_uri(confusion: Sequence[Sequence[int]]) -> str:
    """The confusion matrix (rows: true label, columns: predicted), counts written in the cells."""
    size = len(confusion)
    figure = Figure(figsize=(1.6 + 0.42 * size, 1.2 + 0.42 * size), dpi=100)
    axes = figure.add_subplot()
    image = axes.imshow(confusion, cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title("confusion matrix (held-out data)")
    if size <= MAX_ANNOTATED_CLASSES:
        axes.set_xticks(range(size))
        axes.set_yticks(range(size))
        peak = max((max(row) for row in confusion), default=0) or 1
        for row, counts in enumerate(confusion):
            for column, count in enumerate(counts):
                if count:
                    colour = "white" if count > peak / 2 else "black"
                    axes.text(column, row, str(count), ha="center", va="center", fontsize=8, color=colour)
    return _data_uri(figure)


def training_curves_uri(history: Mapping[str, Sequence[float | None]]) -> str | None:
    """Loss and the other metrics per epoch, side by side; None when there is nothing to draw."""
    series = {name: values for name, values in history.items() if values}
    losses = {name: values for name, values in series.items() if "loss" in name}
    others = {name: values for name, values in series.items() if "loss" not in name}
    panels = [(title, group) for title, group in (("loss", losses), ("metrics", others)) if group]
    if not panels:
        return None
    figure = Figure(figsize=(5.2 * len(panels), 3.4), dpi=100)
    for index, (title, group) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for name, values in group.items():
            epochs = range(1, len(values) + 1)
            axes.plot(
                epochs, [math.nan if v is None else v for v in values], marker="o", markersize=3, label=name
            )
        axes.set_xlabel("epoch")
        axes.set_title(f"{title} per epoch (from the notebook's fit)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    return _data_uri(figure)


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
