"""What every report plot shares (matplotlib, headless): grouped bars, colours, PNG bytes.

Each report module draws its own plots from the stats its tables use (corpus/report.py,
eval/tokenizer_report.py, training/report.py, eval/report.py), so a plot never shows a
number the tables do not. Import this inside a plot function: matplotlib is slow to load.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODEL_COLOURS = {"base": "#8c8c8c", "cino": "#1f77b4", "merged": "#ff7f0e", "pruned": "#1f77b4"}


def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def bars(axis, groups: list, series: dict, colours: dict = None, errors: dict = None):
    """Grouped bars: one group per entry of `groups`, one bar per series {name: [value per group]}."""
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        positions = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        axis.bar(positions, values, width, label=name, color=(colours or {}).get(name),
                 yerr=(errors or {}).get(name), capsize=3 if errors else 0)
    axis.set_xticks(range(len(groups)), groups)
