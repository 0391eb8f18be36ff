"""Drafts: factual first sentences written from the data, which an analyst keeps, corrects or
replaces. One drafter per narrative key; a key without one gets a neutral prompt.

Drafts are Markdown that quotes catalog, store and input text (KPI names, owners, action
titles, units); every such text goes through :func:`literal`, so it is shown as written and
can never become an image, a link, raw HTML or a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.figures import spend_subjects
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import STATUS_WORDS, format_date, isolated, ordinal, plural
from reviewkit.formatting import format_value as _format_value
from reviewkit.inputs.catalog import Kpi

#: Characters with a meaning in Markdown (or in placeholders) that quoted text must not have.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>#!|~&])")


#: Runs of white space that quoted text collapses to one space (a no-break space, which keeps a
#: number with its unit, stays).
_SPACE = re.compile(r"[^\S\u00a0]+")


def literal(text: object) -> str:
    """Quoted text as Markdown that renders exactly as written, its direction its own
    (:func:`~reviewkit.formatting.isolated`)."""
    return isolated(_MARKDOWN.sub(r"\\\1", _SPACE.sub(" ", str(text)).strip(" ")))


def format_value(value: float | None, kpi: Kpi) -> str:
    return literal(_format_value(value, kpi))


def draft_for_kpi(result: KpiResult, pack: PackEvaluation) -> str:
    """A factual first sentence about one KPI (its figures at the pack's precision)."""
    kpi, current, previous = result.kpi, result.current, result.previous
    figures = pack.figures.shown(kpi.id)
    noun = pack.period.noun
    if current.value is None:
        last = (
            f"last measured {format_date(result.last_seen)}"
            if result.last_seen
            else "never measured"
        )
        text = (f"{literal(kpi.name)} has no data this {noun} ({last}); "
                f"owner: {literal(kpi.owner)}.")
    else:
        # The change as the page prints it: one that prints as nothing is none ("stands at",
        # not "rose to").
        change = figures.change_number
        if change:
            verb = "rose" if change > 0 else "fell"
            moved = (f" {verb} to {literal(figures.value)} since last {noun}"
                     + (", pro rata" if result.change_pro_rata else ""))
        else:
            moved = f" stands at {literal(figures.value)}"
        transition = ""
        if previous.status != current.status and previous.status != "no_data":
            transition = (f" ({STATUS_WORDS[previous.status].lower()} → "
                          f"{STATUS_WORDS[current.status].lower()})")
        # The streak named is the streak counted: periods in a row meeting (or missing) the
        # target, whatever their colour.
        if current.status == "green":
            where = f"on target for the {ordinal(result.target_streak)} {noun} in a row"
        else:
            where = (f"the {ordinal(result.target_streak)} {noun} "
                     f"{'below' if kpi.higher_is_better else 'above'} target")
        target = (f"target {literal(figures.target)}"
                  + (", pro-rated to date" if current.pro_rated else ""))
        text = (f"{literal(kpi.name)}{moved}{transition}, {where} ({target})"
                f"{_trend_clause(result)}{_data_to(result)}; owner: {literal(kpi.owner)}.")
    linked = pack.action_log.open_for(kpi.id)
    if linked:
        text += " Open actions: " + "; ".join(
            f"{literal(view.id)} {literal(view.action.title)} (due {format_date(view.action.due)})"
            for view in linked
        ) + "."
    elif result.status == "red":
        text += " No open action is linked to it."
    if kpi.action_if_off_track and result.status in ("red", "amber"):
        text += f" Expected action: {literal(kpi.action_if_off_track)}"
    return text + _from_the_owner(result, pack)


def _from_the_owner(result: KpiResult, pack: PackEvaluation) -> str:
    """What the KPI's owner wrote in the review round, marked with who and when."""
    text = ""
    chosen = result.owner_status
    if chosen is not None:
        text += (f"\n\nStatus set by the owner ({literal(chosen.by)}, {chosen.day}): "
                 f"{literal(chosen.reason)}")
    note = pack.owner_notes.get(result.kpi.id)
    if note is not None:
        text += f"\n\nOwner's update ({literal(note.by)}, {note.day}):"
        if note.analysis:
            text += f" {literal(note.analysis)}"
        if note.recommendation:
            text += f" Recommendation: {literal(note.recommendation)}"
    return text


def _trend_clause(result: KpiResult) -> str:
    """The trend, with its span, when it runs the other way from this period's change (a
    value that rose this week beside a six-week worsening trend would read as a contradiction
    without it)."""
    change, trend = result.change, result.trend
    if change is None or change == 0 or trend not in ("improving", "worsening"):
        return ""
    good_change = (change > 0) == result.kpi.higher_is_better
    if good_change == (trend == "improving"):
        return ""
    return f", though over {result.reading.span} the trend is {trend}"


def _data_to(result: KpiResult) -> str:
    day = result.data_to
    return f"; data only to {day.day} {day:%b %Y}" if day is not None else ""


def _summary(pack: PackEvaluation) -> str:
    evaluation = pack.evaluation
    counts = evaluation.status_counts()
    noun = pack.period.noun
    names = {r.kpi.id: literal(r.kpi.name) for r in evaluation.results}
    reds = [literal(r.kpi.name) for r in evaluation.results if r.status == "red"]
    worse = [names[e.kpi_id] for e in evaluation.exceptions if e.reason == "worsened"]
    text = (f"This {noun}: {plural(counts['red'], 'KPI')} off track"
            + (f" ({', '.join(reds)})" if reds else "")
            + f", {counts['amber']} at risk, {counts['green']} on track.")
    if worse:
        text += f" Worse than last {noun}: {', '.join(worse)}."
    overdue = len(pack.action_log.overdue)
    if overdue:
        text += f" {plural(overdue, 'action is', 'actions are')} overdue."
    return text


def _kpis(pack: PackEvaluation) -> str:
    noun = pack.period.noun
    movers = sorted(
        (r for r in pack.results if r.change is not None and r.status_changed),
        key=lambda r: r.kpi.name,
    )
    if not movers:
        return f"No KPI changed status since last {noun}."
    return "Status changes since last " + noun + ": " + "; ".join(
        f"{literal(r.kpi.name)} {STATUS_WORDS[r.previous.status].lower()} → "
        f"{STATUS_WORDS[r.status].lower()}" for r in movers
    ) + "."


def _actions(pack: PackEvaluation) -> str:
    log = pack.action_log
    # A unit's page also lists the group's open actions on its KPIs: their lateness is the
    # unit's business too, and "no action is overdue" beneath them would contradict the page.
    lists = [("Overdue", log.overdue),
             ("Overdue among the group's actions on these KPIs",
              [v for v in log.group_actions if v.overdue])]
    said = [f"{heading}: " + "; ".join(
        f"{literal(v.id)} {literal(v.action.title)} ({literal(v.action.owner)}, "
        f"{plural(v.days_overdue, 'day')})" for v in views) for heading, views in lists if views]
    if not said:
        return "No action is overdue."
    return ". ".join(said) + ". For each: re-plan with a new due date, escalate, or close."


def _delivery(pack: PackEvaluation) -> str | None:
    strategy = pack.strategy
    if strategy.initiatives is None:
        return None
    states = {literal(i.name): strategy.schedule_of(i) for i in strategy.initiatives}
    late = [name for name, state in states.items() if state == "late"]
    risky = [name for name, state in states.items() if state == "at_risk"]
    over = [literal(i.name) for i in strategy.initiatives if i.live_over_budget]
    text = (f"{plural(len(late), 'initiative')} late" + (f" ({', '.join(late)})" if late else "")
            + f", {len(risky)} at risk" + (f" ({', '.join(risky)})" if risky else "") + ".")
    if over:
        text += f" Over budget: {', '.join(over)}."
    return text


def _cost(pack: PackEvaluation) -> str | None:
    spend = pack.strategy.spend
    if spend is None:
        return None
    figures = pack.figures
    lines = dict(zip(spend_subjects(spend), [*spend.categories, spend.total], strict=True))
    over = [(subject, c) for subject, c in lines.items()
            if c is not spend.total and c.ytd.status in ("amber", "red")]
    text = (f"Year to date {figures.text('spend:total', 'ytd-actual')} against a budget of "
            f"{figures.text('spend:total', 'ytd-budget')}; full-year forecast "
            f"{figures.text('spend:total', 'fy-actual')} against "
            f"{figures.text('spend:total', 'fy-budget')}.")
    if over:
        text += " Over budget to date: " + ", ".join(
            f"{literal(c.category)} ({literal(figures.text(subject, 'ytd-variance'))})"
            for subject, c in over) + "."
    return text


def _priorities(pack: PackEvaluation) -> str | None:
    priorities = pack.strategy.priorities
    if priorities is None:
        return None
    figures = pack.figures
    return "Progress: " + "; ".join(
        f"{literal(priority.title)} {figures.text(f'priority:{priority.id}', 'progress')}"
        for priority, _ in priorities
    ) + "."


#: Narrative key → its drafter (None when the data it would describe is not there).
DRAFTERS: dict[str, Callable[[PackEvaluation], str | None]] = {
    "summary": _summary,
    "kpis": _kpis,
    "actions": _actions,
    "delivery": _delivery,
    "cost": _cost,
    "priorities": _priorities,
}


def draft_for_section(key: str, title: str, pack: PackEvaluation) -> str:
    """The draft of a section's commentary cell: empty when there is nothing in the data to
    draft it from (a pack never prints a placeholder such as "Commentary on Delivery."; the
    empty cell waits for the analyst's words and is not shown until then)."""
    del title  # named in the cell's label, never as text of its own
    drafter = DRAFTERS.get(key)
    text = drafter(pack) if drafter is not None else None
    return text or ""
