"""Write the pack notebooks from one layout, so the three cadences stay consistent.

Run after changing the layout: ``python tools/make_notebooks.py``. The notebooks are committed;
analysts may also edit them directly in Jupyter.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent

PACKS = {
    "weekly": ("weekly_operational.ipynb", "Weekly operational review", "week"),
    "monthly": ("monthly_business.ipynb", "Monthly business review", "month"),
    "quarterly": ("quarterly_strategic.ipynb", "Quarterly strategic review", "quarter"),
}

NARRATIVE_PLACEHOLDER = "*No commentary yet.*"


def section(call: str, section_id: str, title: str, *, toc: bool = True) -> nbformat.NotebookNode:
    cell = new_code_cell(call)
    cell.metadata["reviewkit"] = {"section": {"id": section_id, "title": title}, "toc": toc}
    return cell


def narrative(key: str, prompt: str) -> nbformat.NotebookNode:
    cell = new_markdown_cell(NARRATIVE_PLACEHOLDER)
    cell.metadata["tags"] = ["narrative"]
    cell.metadata["reviewkit"] = {"key": key, "prompt": prompt}
    return cell


def _weekly(noun: str) -> list[nbformat.NotebookNode]:
    return [
        section("pack.cover()", "cover", "Cover", toc=False),
        section("pack.summary()", "summary", "Summary: headline KPIs and what needs attention"),
        narrative("summary", f"What happened this {noun}, why, and what you ask of leaders."),
        section("pack.changes()", "changes", "What changed since the last review"),
        section("pack.perspectives()", "perspectives", "Scorecard and KPIs by perspective"),
        narrative("kpis", "What moved, why, and what the owners are doing about it."),
        section("pack.actions()", "actions", "Action log and decisions"),
        narrative("actions", "Which actions need a decision: re-plan, escalate or close."),
        section("pack.data_quality()", "data_quality", "Appendix A: data quality"),
        section("pack.provenance()", "provenance", "Appendix B: provenance"),
    ]


def _monthly(noun: str) -> list[nbformat.NotebookNode]:
    return [
        section("pack.cover()", "cover", "Cover", toc=False),
        section("pack.summary()", "summary", "Summary: headline KPIs and what needs attention"),
        narrative("summary", f"What happened this {noun}, why, and what you ask of leaders."),
        section("pack.changes()", "changes", "What changed since the last review"),
        section("pack.portfolio()", "portfolio", "Delivery: the initiative portfolio"),
        narrative("delivery", "Which initiatives need help, and what you ask for."),
        section("pack.spend()", "spend", "Cost discipline: spend against budget"),
        narrative("cost", "Where spend is off plan, why, and the recovery."),
        section("pack.benefits()", "benefits", "Benefits realization"),
        section("pack.leading_lagging()", "leading_lagging", "Leading and lagging indicators"),
        section("pack.perspectives()", "perspectives", "Scorecard and KPIs by perspective"),
        narrative("kpis", "What moved, why, and what the owners are doing about it."),
        section("pack.actions()", "actions", "Action log and decisions"),
        narrative("actions", "Which actions need a decision: re-plan, escalate or close."),
        section("pack.data_quality()", "data_quality", "Appendix A: data quality"),
        section("pack.provenance()", "provenance", "Appendix B: provenance"),
    ]


def _quarterly(noun: str) -> list[nbformat.NotebookNode]:
    return [
        section("pack.cover()", "cover", "Cover", toc=False),
        section("pack.balanced_scorecard()", "balanced_scorecard", "Balanced scorecard"),
        narrative("summary", f"The {noun} in three sentences for the board."),
        section("pack.board_decisions()", "board_decisions", "Decisions requested of the board"),
        section("pack.priorities()", "priorities", "Strategic priorities"),
        narrative("priorities", "Which priorities are behind, and what would bring them back."),
        section("pack.outlook()", "outlook", "Outlook: the next four quarters"),
        section("pack.benefits()", "benefits", "Benefits realization"),
        section("pack.portfolio()", "portfolio", "The initiative portfolio"),
        section("pack.spend()", "spend", "Spend against budget"),
        section("pack.changes()", "changes", "What changed since the last review"),
        section("pack.perspectives()", "perspectives", "Scorecard and KPIs by perspective"),
        section("pack.actions()", "actions", "Action log and decisions"),
        section("pack.data_quality()", "data_quality", "Appendix A: data quality"),
        section("pack.provenance()", "provenance", "Appendix B: provenance"),
    ]


SECTIONS = {"weekly": _weekly, "monthly": _monthly, "quarterly": _quarterly}


def notebook(cadence: str, title: str, noun: str) -> nbformat.NotebookNode:
    intro = new_markdown_cell(
        f"# {title}\n\n"
        "This notebook lays out the pack. `reviewkit build` runs it with papermill and turns it "
        "into PDF and HTML; run it here to preview.\n\n"
        "* Write your commentary in the cells marked **Commentary** (tagged `narrative`).\n"
        "* Each code cell calls one `reviewkit` helper; the numbers come from the data, "
        "not from this notebook."
    )
    intro.metadata["tags"] = ["remove-cell"]
    params = new_code_cell(
        "# Parameters: `reviewkit build` passes these; the defaults build the demo pack.\n"
        f'cadence = "{cadence}"\n'
        f'params_file = "../params/{cadence}.yaml"\n'
        "period_end = None  # any date in the period; None: the latest in the data\n"
        "context_file = None  # set by `reviewkit build`: inputs already evaluated"
    )
    params.metadata["tags"] = ["parameters"]
    setup = new_code_cell(
        "import reviewkit.layout.sections as rk\n\n"
        "pack = rk.open_pack(cadence, params_file, period_end, context_file)"
    )
    cells = [intro, params, setup, *SECTIONS[cadence](noun)]
    for index, cell in enumerate(cells):
        cell.id = f"{cadence}-{index:02d}"  # stable ids keep the committed notebooks diff-free
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    for cadence, (filename, title, noun) in PACKS.items():
        nb = notebook(cadence, title, noun)
        nbformat.validate(nb)
        path = ROOT / "notebooks" / filename
        nbformat.write(nb, path)
        print(path)


if __name__ == "__main__":
    main()
