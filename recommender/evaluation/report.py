"""Results files and reports: JSON, Markdown, self-contained HTML (plots as base64 PNG), one line."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from recommender.evaluation.stats import significance_mark

if TYPE_CHECKING:
    from matplotlib.colors import ListedColormap

__all__ = ["write_json", "read_json", "render_markdown", "render_html", "summary_line", "task_table", "write_reports"]

_LABELS = {"ndcg@10": "nDCG@10", "map": "MAP", "p@5": "P@5", "recall@10": "R@10", "mrr": "MRR",
           "hit@10": "Hit@10", "ild@10": "ILD@10", "novelty@10": "Novelty@10", "freshness@10": "Age@10 (days)",
           "auc": "AUC", "ndcg@5": "nDCG@5", "spearman": "Spearman", "pearson": "Pearson"}


def write_json(results: dict, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, allow_nan=False, default=_plain), encoding="utf-8")
    return path


class ReportError(ValueError):
    """A file that is not a readable evaluation report; the message names it."""


def read_json(path: Path | str) -> dict:
    """A report written by :func:`write_reports` (``ReportError`` when the file is unreadable or not JSON)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReportError(f"{path}: not a readable report: {error}") from None


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _cell(summary: dict) -> str:
    mean, low, high = summary.get("mean"), summary.get("low"), summary.get("high")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if low is None or high is None or (low == high == mean):
        return _number(mean)
    return f"{_number(mean)} [{_number(low)}, {_number(high)}]"


def task_table(task: dict) -> list[list[str]]:
    """Header + one row per system: each headline metric as ``mean [95% CI]``; ``*`` marks a paired
    difference from the reference system (``**`` p<0.01, ``***`` p<0.001); the last column is the
    first metric's difference from the reference with its 95% paired bootstrap interval and p-value."""
    metrics = [key for key in task["headline"]]
    reference = task.get("reference")
    first = metrics[0]
    header = ["system", *[_LABELS.get(key, key) for key in metrics]]
    if task["kind"] == "retrieval":
        header.append("Coverage@10")
    header.append(f"Δ{_LABELS.get(first, first)} vs {reference} [95% CI] (p)")
    rows = [header]
    for name, result in task["systems"].items():
        paired = task.get("paired", {}).get(name, {})
        row = [name]
        for key in metrics:
            summary = result["metrics"].get(key)
            mark = significance_mark(paired.get(key, {}).get("p", math.nan)) if key in paired else ""
            row.append((_cell(summary) if summary else "–") + mark)
        if task["kind"] == "retrieval":
            row.append(_number(result.get("coverage@10")))
        if first in paired:
            test = paired[first]
            row.append(f"{test['diff']:+.3f} [{test['low']:+.3f}, {test['high']:+.3f}] (p={test['p']:.3g})"
                       if test["p"] is not None else "–")
        else:
            row.append("reference" if name == reference else "–")
        rows.append(row)
    return rows


def _markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _notes(task: dict) -> str:
    count = {"retrieval": "queries", "impressions": "impressions", "similarity": "pairs",
             "reading-lists": "story catch-up lists"}[task["kind"]]
    note = f"{task['description']}. {task['n_queries']:,} {count}, {task['n_articles']:,} articles."
    if task["kind"] == "retrieval":
        note += (" Means over queries with 95% bootstrap intervals; MAP and MRR over the top "
                 f"{task['depth']}; Age@10 = mean age of the 10 shown items relative to the query (negative = older).")
    return note


def render_markdown(results: dict) -> str:
    parts = ["# readalso evaluation\n", f"{summary_line(results)}\n",
             f"Command: `{results.get('command', '')}`  \nCreated: {results.get('created', '')}, "
             f"seed {results.get('settings', {}).get('seed', 0)}, "
             f"{results.get('settings', {}).get('n_resamples', 1000)} bootstrap resamples.\n",
             "Significance marks compare each system with the reference (paired over the same queries: "
             "Wilcoxon signed-rank; for correlations a paired bootstrap): * p<0.05, ** p<0.01, *** p<0.001.\n"]
    for task in results["tasks"]:
        parts.append(f"## {task['name']}\n\n{_notes(task)}\n\n{_markdown_table(task_table(task))}\n")
    for skipped in results.get("skipped", []):
        parts.append(f"## {skipped['name']} (skipped)\n\n{skipped['reason']}\n")
    return "\n".join(parts)


# --- plots --------------------------------------------------------------------------------

def _figure_png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(task: dict) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    systems = task["systems"]
    names = list(systems)
    images = []
    if task["kind"] == "retrieval":
        figure, axes = plt.subplots(1, 2, figsize=(11, 4))
        # more systems than the default ten colours; tab20 is a ListedColormap
        colours = cast("list[tuple[float, float, float]]", cast("ListedColormap", plt.get_cmap("tab20")).colors)
        for number, name in enumerate(names):
            for axis, prefix in zip(axes, ("ndcg", "recall")):
                means = [systems[name]["metrics"][f"{prefix}@{k}"]["mean"] for k in task["ks"]]
                axis.plot(task["ks"], means, marker="o", label=name, color=colours[number % len(colours)],
                          linestyle="-" if name.startswith("engine") else "--")
                axis.set_xlabel("k")
                axis.set_ylabel(f"{prefix}@k")
        axes[1].legend(fontsize=7, loc="best")
        figure.suptitle(f"{task['name']}: metric vs k")
        images.append(("metric vs k", _figure_png(figure)))

        figure, axis = plt.subplots(figsize=(11, 4))
        data = [[v for v in systems[n]["per_query"]["ndcg@10"] if v is not None] for n in names]
        axis.boxplot(data, showmeans=True)
        axis.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
        axis.set_ylabel("nDCG@10 per query")
        axis.set_title(f"{task['name']}: per-query distribution")
        images.append(("per-query nDCG@10", _figure_png(figure)))

        shown = [n for n in names if systems[n]["scores_relevant"] or systems[n]["scores_other"]][:6]
        if shown:
            figure, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 3), squeeze=False)
            for axis, name in zip(axes[0], shown):
                axis.hist([systems[name]["scores_relevant"], systems[name]["scores_other"]], bins=20,
                          label=["relevant", "other"], stacked=True)
                axis.set_title(name, fontsize=8)
            axes[0][0].legend(fontsize=7)
            figure.suptitle(f"{task['name']}: scores of the top 10 (relevant vs other)")
            images.append(("score histograms", _figure_png(figure)))

        ages = [systems[n]["ages_days"] for n in names]
        if any(ages):
            figure, axis = plt.subplots(figsize=(11, 4))
            axis.boxplot([a or [0.0] for a in ages], showfliers=False, showmeans=True)
            axis.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
            axis.axhline(0, color="grey", linewidth=0.8)
            axis.set_ylabel("age vs query (days, negative = older)")
            axis.set_title(f"{task['name']}: freshness of the top 10")
            images.append(("freshness", _figure_png(figure)))
    elif task["kind"] == "similarity":
        human = np.asarray(task["human"])
        shown = names[:4]
        if shown:
            figure, axes = plt.subplots(1, len(shown), figsize=(3.5 * len(shown), 3.2), squeeze=False)
            for axis, name in zip(axes[0], shown):
                axis.scatter(human, systems[name]["similarity"], s=4, alpha=0.4)
                axis.set_xlabel("human score (0-5)")
                axis.set_title(f"{name}: ρ={systems[name]['metrics']['spearman']['mean']:.3f}", fontsize=9)
            axes[0][0].set_ylabel("system similarity")
            images.append(("similarity vs human score", _figure_png(figure)))
    if task["systems"]:  # every kind: means with intervals
        metrics = task["headline"][:4]
        figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2), squeeze=False)
        for axis, key in zip(axes[0], metrics):
            centre = np.array([systems[n]["metrics"][key]["mean"] for n in names], dtype=float)
            low = np.array([systems[n]["metrics"][key]["low"] for n in names], dtype=float)
            high = np.array([systems[n]["metrics"][key]["high"] for n in names], dtype=float)
            errors = np.nan_to_num(np.vstack([centre - low, high - centre]).clip(min=0))
            axis.barh(range(len(names)), np.nan_to_num(centre), xerr=errors, capsize=2)
            axis.set_yticks(range(len(names)), names if axis is axes[0][0] else [""] * len(names), fontsize=7)
            axis.invert_yaxis()
            axis.set_title(_LABELS.get(key, key), fontsize=9)
        figure.suptitle(f"{task['name']}: means with 95% intervals")
        images.append(("means with intervals", _figure_png(figure)))
    return images


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%;display:block;margin:1em 0}
.summary{background:#f6f8fa;padding:.6em 1em;border-left:4px solid #36c}code{background:#f3f3f3;padding:1px 4px}"""


def render_html(results: dict, *, plots: bool = True) -> str:
    escape = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>readalso evaluation</title>"
             f"<style>{_CSS}</style></head><body><h1>readalso evaluation</h1>",
             f"<p class='summary'>{escape(summary_line(results))}</p>",
             f"<p>Command: <code>{escape(results.get('command', ''))}</code><br>"
             f"Created {escape(results.get('created', ''))}."
             " Cells: mean [95% bootstrap interval]; * p&lt;0.05, ** p&lt;0.01, *** p&lt;0.001 against the reference"
             " (paired over the same queries).</p>"]
    for task in results["tasks"]:
        rows = task_table(task)
        table = "<table><tr>" + "".join(f"<th>{escape(c)}</th>" for c in rows[0]) + "</tr>"
        table += "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
        table += "</table>"
        parts.append(f"<h2>{escape(task['name'])}</h2><p>{escape(_notes(task))}</p>{table}")
        if plots:
            for title, png in _plots(task):
                parts.append(f"<h3>{escape(title)}</h3><img alt='{escape(title)}' src='data:image/png;base64,{png}'>")
    for skipped in results.get("skipped", []):
        parts.append(f"<h2>{escape(skipped['name'])} (skipped)</h2><p>{escape(skipped['reason'])}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def summary_line(results: dict) -> str:
    """One line: each task's primary metric for the reference and the best baseline."""
    pieces = []
    for task in results["tasks"]:
        key = task["headline"][0]
        systems = task["systems"]
        reference = task.get("reference") if task.get("reference") in systems else next(iter(systems), None)
        if reference is None:
            continue
        reference_mean = _number(systems[reference]["metrics"][key]["mean"])
        text = f"{task['name']} {_LABELS.get(key, key)} {reference} {reference_mean}"
        others = {n: s["metrics"][key]["mean"] for n, s in systems.items()
                  if not n.startswith(reference) and s["metrics"][key]["mean"] is not None
                  and not math.isnan(s["metrics"][key]["mean"])}
        if others:
            best = max(others, key=lambda n: others[n])
            text += f" vs {best} {_number(others[best])}"
        pieces.append(text)
    skipped = [s["name"] for s in results.get("skipped", [])]
    line = "; ".join(pieces) or "no task evaluated"
    return line + (f" (skipped: {', '.join(skipped)})" if skipped else "")


def write_reports(results: dict, output_dir: Path | str, *, stem: str = "evaluation", plots: bool = True) -> dict:
    """``<stem>.json``, ``<stem>.md`` and ``<stem>.html`` under ``output_dir``; returns the paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": write_json(results, output_dir / f"{stem}.json")}
    paths["markdown"] = output_dir / f"{stem}.md"
    paths["markdown"].write_text(render_markdown(results), encoding="utf-8")
    paths["html"] = output_dir / f"{stem}.html"
    paths["html"].write_text(render_html(results, plots=plots), encoding="utf-8")
    return paths
