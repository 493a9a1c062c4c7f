"""The report's plots: matplotlib figures (Agg, no pyplot state) as inline base64 PNGs.

Each plot is sized to fit one screen at 1280 px whatever the class size: the score
distribution is one small histogram per assignment, four to a row; the pass-rate plot shows
the hardest tests only (every test is in the report's table).
"""

from __future__ import annotations

import base64
import io

import pandas as pd
from matplotlib.figure import Figure

_BLUE = "#2f6db5"
_RED = "#c0392b"
_AMBER = "#d68910"
_GREEN = "#1e8449"
HARDEST = 20  # tests in the pass-rate plot


def png(fig: Figure) -> str:
    """The figure as base64 PNG text."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def data_uri(fig: Figure | None) -> str:
    """The figure as a ``data:`` URI for an ``<img>`` ("" when there is no figure)."""
    return "" if fig is None else f"data:image/png;base64,{png(fig)}"


def distribution_plot(by_student: pd.DataFrame) -> Figure | None:
    """Histogram of scores (% of max) per assignment, missing work stacked in grey."""
    if by_student.empty:
        return None
    names = sorted(by_student["assignment"].unique())
    cols = min(4, len(names))
    nrows = -(-len(names) // cols)
    fig = Figure(figsize=(2.9 * cols, 1.9 * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False, sharey=True)
    bins = [i * 10 for i in range(11)]
    for ax, name in zip(axes.flat, names, strict=False):
        mine = by_student[by_student["assignment"] == name]
        maximum = mine["max_score"].max()
        percent = (100 * mine["score"] / maximum) if maximum > 0 else mine["score"] * 0
        submitted = percent[~mine["missing"]].clip(0, 100)
        absent = percent[mine["missing"]]
        ax.hist(
            [submitted, absent],
            bins=bins,
            stacked=True,
            color=[_BLUE, "#bbbbbb"],
            label=["submitted", "missing"],
            edgecolor="white",
        )
        ax.axvline(percent.mean(), color=_RED, linestyle="--", lw=1, label="mean")
        ax.set_title(f"{name}  (mean {percent.mean():.0f}%, n={len(mine)})", fontsize=10)
        ax.set_xlim(0, 100)
        ax.set_xlabel("score (% of max)", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("students", fontsize=9)
    axes[0][0].legend(fontsize=8, loc="upper left", frameon=False)
    return fig


def pass_rate_plot(rates: pd.DataFrame) -> Figure | None:
    """Bars of the :data:`HARDEST` tests' pass rates, lowest on top."""
    if rates.empty:
        return None
    rates = rates.head(HARDEST)  # the hardest tests; the table lists every one
    labels = [
        f"{a} · {t.rsplit('::', 1)[-1]}"
        for a, t in zip(rates["assignment"], rates["test_id"], strict=True)
    ]
    values = (100 * rates["pass_rate"].astype(float)).tolist()
    colors = [_RED if v < 50 else _AMBER if v < 80 else _GREEN for v in values]
    fig = Figure(figsize=(10, 0.8 + 0.25 * len(rates)), layout="constrained")
    ax = fig.subplots()
    positions = list(range(len(rates)))
    ax.barh(positions, values, color=colors, height=0.7)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()  # lowest pass rate on top
    ax.set_xlim(0, 105)
    ax.set_xlabel("passed (% of graded submissions)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    for y, (value, passed, attempts) in enumerate(
        zip(values, rates["passed"], rates["attempts"], strict=True)
    ):
        ax.text(value + 1, y, f"{int(passed)}/{int(attempts)}", va="center", fontsize=7)
    return fig


def timing_plot(graded: pd.DataFrame) -> Figure | None:
    """Seconds per notebook, a box and the points per assignment."""
    if graded.empty:
        return None
    names = sorted(graded["assignment"].unique())
    data = [graded.loc[graded["assignment"] == n, "duration_s"].astype(float) for n in names]
    fig = Figure(figsize=(10, 0.9 + 0.35 * min(len(names), 16)), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(data, orientation="horizontal", widths=0.5, showfliers=False)
    for i, values in enumerate(data, start=1):
        jitter = [i + ((k % 5) - 2) * 0.05 for k in range(len(values))]
        ax.scatter(values, jitter, s=12, color=_BLUE, alpha=0.7, zorder=3)
    ax.set_yticks(range(1, len(names) + 1), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per notebook (sandbox start to stored verdict)", fontsize=9)
    ax.set_xlim(left=0)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e5e5e5")
    return fig
