"""Plot bench/scaling.py's figures: CPU per run against the size of the work, per check.

Run with the bench's own environment (``make bench`` makes ``.venv-plot`` with matplotlib):
matplotlib is no dependency of vigie. One panel per series, vigie's checks as solid lines,
the C plugins dashed; both axes logarithmic, since sizes go from 1 to 10 000.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

# matplotlib lives in the plot's own environment, not in vigie's (where mypy runs).
import matplotlib  # type: ignore[import-not-found]

matplotlib.use("svg")  # before pyplot: no display here
import matplotlib.pyplot as plt  # type: ignore[import-not-found]


def main() -> None:
    """``plot.py scaling.json scaling.svg``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figures", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    figures = json.loads(args.figures.read_text())
    series = list(dict.fromkeys(figure["series"] for figure in figures.values()))
    columns = 3
    rows = math.ceil(len(series) / columns)
    canvas, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for panel, name in zip(axes.flat, series, strict=False):
        for label, figure in figures.items():
            if figure["series"] != name:
                continue
            style = "--" if label.startswith("C ") else "-"
            panel.plot(figure["sizes"], figure["cpu_ms"], style, marker="o", label=label)
        panel.set_xscale("log")
        panel.set_yscale("log")
        panel.set_title(name)
        panel.set_xlabel("items")
        panel.set_ylabel("CPU ms per run")
        panel.grid(True, which="both", alpha=0.3)
        panel.legend(fontsize="small")
    for panel in list(axes.flat)[len(series) :]:
        panel.set_visible(False)
    canvas.tight_layout()
    canvas.savefig(args.output, metadata={"Date": None})


if __name__ == "__main__":
    main()
