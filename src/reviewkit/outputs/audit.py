"""The pack audits itself: what its pages say is what its figures say.

Every figure a page prints carries its identity (``data-fig="<subject>/<period>/<kind>"``,
:mod:`reviewkit.evaluation.figures`) and every chart its id (``data-chart``). After the pack
is written, :func:`audit` reads the HTML page and the PDF's alternative texts and checks:

* **value differs / status differs**: each printed figure's text is the pack's figure for it,
  and no identity was stated twice with different values while the pack was assembled (a KPI
  has one value and one status per period everywhere);
* **alt text differs**: each chart's alternative text, in the page and in the PDF's structure
  tree, is the one written from the pack's figures, and states those figures as printed;
* **sentence contradicts status**: no sentence (commentary, the outlook, an alternative text)
  says a KPI is on target, at risk or off track for a period whose status is otherwise ("on
  target in Q4 2026" beside At risk for Q4 2026).

Each finding names its place. A build records the findings in ``manifest.json``; publishing
refuses a pack with any (the ``figures_agree`` publish-gate rule), and the test suite fails
a build with any (``REVIEWKIT_AUDIT=strict``).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Literal

from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.figures import split_id
from reviewkit.layout.document import OUTLOOK_PREFIX, SPARKLINE_PREFIX, PackDocument
from reviewkit.narrative.placeholders import NarrativeError, fill
from reviewkit.outputs.html import without_comments

Rule = Literal["value-differs", "status-differs", "alt-text-differs",
               "sentence-contradicts-status", "unknown-figure"]

#: The environment variable that makes any finding fail the build (the test suite sets it).
STRICT_ENV = "REVIEWKIT_AUDIT"


@dataclass(frozen=True)
class Finding:
    """One place where the pack says something its figures do not."""

    rule: Rule
    place: str  # "pack.html, section 'Outlook: the next four quarters'", "pack.pdf, page 6"
    message: str

    def describe(self) -> str:
        return f"{self.place}: {self.message}"

    def as_json(self) -> dict[str, str]:
        return {"rule": self.rule, "place": self.place, "message": self.message}


class AuditFailed(ReviewkitError):
    """The pack contradicts itself (strict audit: the build fails, nothing is published)."""

    exit_code = 3

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        first = self.findings[0].describe() if self.findings else ""
        more = f" (and {len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
        super().__init__(f"the pack's audit found {len(self.findings)} contradiction"
                         f"{'s' if len(self.findings) != 1 else ''}: {first}{more}")


def _spaced(text: str) -> str:
    """Text with no word joiners or soft hyphens and one kind of space."""
    text = unicodedata.normalize("NFKC", text).replace("\u2060", "").replace("\u00ad", "")
    return " ".join(text.split())


def normalise(text: str) -> str:
    """Text as the audit compares it: as :func:`_spaced`, in one case."""
    return _spaced(text).casefold()


def _kind_rule(kind: str) -> Rule:
    return "status-differs" if kind.endswith("status") or kind in ("state", "verdict") \
        else "value-differs"


# -- what the document itself says --------------------------------------------------------------


def check_document(document: PackDocument) -> list[Finding]:
    """The pack's own statements before any page is made: no identity stated twice with
    different values, each alternative text states its figures as printed, and no sentence
    (the outlook's, the commentary's, an alternative text) contradicts a status."""
    figures = document.figures
    findings = [Finding(_kind_rule(split_id(c.identity)[2]), c.second_where, c.describe())
                for c in figures.conflicts]
    for chart_id, alt in document.alts.items():
        text = normalise(alt.text)
        for identity in alt.states:
            figure = figures.get(identity)
            if figure is None or normalise(figure.text) not in text:
                findings.append(Finding(
                    "alt-text-differs", f"alternative text of chart '{chart_id}'",
                    f"does not state {identity} as the pack does "
                    f"({figure.text if figure else 'no such figure'!r})"))
    scanner = SentenceCheck(document)
    findings += _forecast_claims(document)
    for outlook in document.view.strategy.outlooks:
        name = document.view.catalog.by_id()[outlook.forecast.kpi_id].name
        findings += scanner.check(outlook.quarterly.sentence, f"outlook ({name})")
    for chart_id, alt in document.alts.items():
        about = chart_id.removeprefix(SPARKLINE_PREFIX).removeprefix(OUTLOOK_PREFIX)
        findings += scanner.check(alt.text, f"alternative text of chart '{chart_id}'", about)
    for cell in document.publication.narrative:
        try:
            # What the page shows: a note to self in an HTML comment is not checked.
            text = fill(without_comments(cell.text), document.view.evaluated)
        except NarrativeError:
            continue  # refused when it was saved; the page shows it as written
        findings += scanner.check(text, f"commentary '{cell.title}'", cell.kpi_id)
    return findings


def _forecast_claims(document: PackDocument) -> list[Finding]:
    """What the outlook projects for the pack's own period against the scorecard's status."""
    figures = document.figures
    findings = []
    for result in document.view.evaluation.results:
        claim = figures.value(result.kpi.id, "forecast-status")
        status = result.status
        if claim is None or status == "no_data":
            continue
        if (claim == "met") != (status == "green"):
            said = figures.text(result.kpi.id, "forecast-status")
            findings.append(Finding(
                "sentence-contradicts-status", f"outlook ({result.kpi.name})",
                f"says {result.kpi.name} {said} in {document.view.period.long_label}; the "
                f"scorecard says {figures.text(result.kpi.id, 'status')} for "
                f"{document.view.period.long_label}"))
    return findings


# -- sentences ----------------------------------------------------------------------------------

#: What "above target" and "below target" allow depends on the KPI's direction.
_HIGH, _LOW = "\0high", "\0low"


def _by_direction(allowed: frozenset[str], higher_is_better: bool) -> frozenset[str]:
    """The statuses a phrase allows for a KPI: above target is on track where higher is
    better and not where lower is; below target the other way round."""
    if _HIGH in allowed or _LOW in allowed:
        good = (_HIGH in allowed) == higher_is_better
        return frozenset(("green",) if good else ("amber", "red"))
    return allowed


#: Words that say a status, and the statuses they allow (a claim the model must agree with).
_PHRASES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), frozenset(allowed)) for pattern, allowed in (
        (r"\b(?:not|no longer|never) on (?:its |the )?(?:[\w.%£$€]+ )?(?:target|track)\b",
         ("amber", "red")),
        (r"\bon (?:its |the )?(?:[\w.%£$€]+ )?target\b", ("green",)),
        (r"\bon track\b", ("green",)),
        (r"\boff track\b", ("red",)),
        (r"\bat risk\b", ("amber",)),
        (r"\b(?:short of|behind) (?:its |the )?target\b", ("amber", "red")),
        # Above or below: on track or not by the KPI's direction (:func:`_by_direction`).
        (r"\b(?:above|over) (?:its |the )?target\b", (_HIGH,)),
        (r"\b(?:below|under) (?:its |the )?target\b", (_LOW,)),
    ))
#: A status before an arrow is the one before the change ("at risk → off track").
_BEFORE_ARROW = re.compile(r"[\w ]+?\s*(?:→|->)\s*")
_CLAUSES = re.compile(r"[;\n]|(?<=[.!?])\s+|\.$")
_SENTENCES = re.compile(r"\n|(?<=[.!?])\s+")
#: Words that put a clause in the future or the past (or say it no longer holds: "cleared",
#: "no longer"): it states no status of a period shown.
_NOT_NOW = re.compile(r"\b(?:projected|forecast|expect|expected|aim|aims|plan|plans|should|"
                      r"will|would|could|may|might|hope|was|were|had|last|previous|next|"
                      r"reaches|reach|until|since|before|after|trajectory|falls|cleared|longer)\b",
                      re.IGNORECASE)
#: A number just before a status phrase makes it a count ("3 at risk", "1 KPI off track").
_COUNTED = re.compile(r"\b\d+(?:\s+\w+)?\s*$")
#: "(the data say at risk)" beside an owner's status: what the data alone would give, said
#: beside the status of record, not a second status.
_THE_DATAS = re.compile(r"\bthe data (?:say|says|said|give|gives)\s*$", re.IGNORECASE)


class SentenceCheck:
    """Finds sentences that give a KPI a status other than its status for the period they
    name (the pack's period when they name none)."""

    def __init__(self, document: PackDocument) -> None:
        view = document.view
        self.results: Mapping[str, KpiResult] = {r.kpi.id: r for r in view.evaluation.results}
        names = sorted(((_spaced(r.kpi.name), r.kpi.id) for r in view.evaluation.results),
                       key=lambda item: -len(item[0]))
        self.names = [(re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), kpi_id)
                      for name, kpi_id in names if name]
        self.period = view.period
        self.periods: dict[str, str] = {}
        for result in view.evaluation.results:
            for pv in result.history:
                self.periods[pv.period.long_label.lower()] = pv.period.label
        self.period_words = sorted(self.periods, key=len, reverse=True)

    def check(self, text: str, place: str, about: str | None = None) -> list[Finding]:
        """The contradictions of ``text``; a clause that names no KPI is about ``about``
        (a KPI's own commentary, a chart's alternative text), when given."""
        findings = []
        for sentence in _SENTENCES.split(_spaced(text)):
            lead, colon, _ = sentence.partition(":")
            if colon and _NOT_NOW.search(lead):
                # "Cleared (no longer raised): A (off track); B (worsened)": the lead-in says
                # the whole list no longer holds, item by item.
                sentence = lead
            for clause in _CLAUSES.split(sentence):
                found = self._clause(clause, about)
                if found is not None:
                    findings.append(Finding("sentence-contradicts-status", place, found))
        return findings

    def _clause(self, clause: str, about: str | None) -> str | None:
        if "→" in clause or "->" in clause:
            clause = _BEFORE_ARROW.sub(" ", clause)
        named = []
        rest = clause
        for pattern, kpi_id in self.names:
            if pattern.search(rest):
                named.append(kpi_id)
                rest = pattern.sub(" ", rest)
        if not named and about in self.results:
            named = [str(about)]
        if len(named) != 1:
            return None
        claims: list[tuple[re.Match[str], frozenset[str]]] = []
        for pattern, allowed in _PHRASES:  # the longer, negated phrases first
            for match in pattern.finditer(rest):
                if not any(match.start() < other.end() and other.start() < match.end()
                           for other, _ in claims):
                    claims.append((match, allowed))
        result = self.results[named[0]]
        for match, allowed in sorted(claims, key=lambda item: item[0].start()):
            before = rest[:match.start()]
            if _COUNTED.search(before):
                continue  # "3 at risk": a count of KPIs, not this KPI's status
            if _THE_DATAS.search(before):
                continue
            label = self._period_of(rest, match.end())
            if label == _ELSEWHEN:
                continue  # about a period the pack does not show (the forecast's, say)
            if label is None:
                if _NOT_NOW.search(before[-60:]):
                    continue
                label = self.period.label
            status = next((pv.status for pv in result.history if pv.period.label == label),
                          None)
            if (status is None or status == "no_data"
                    or status in _by_direction(allowed, result.kpi.higher_is_better)):
                continue
            return (f"says {result.kpi.name} is {match.group(0)!r} for {label}, but its status "
                    f"for {label} is {_STATUS_NAMES[status]}: \u201c{clause.strip()}\u201d")
        return None

    def _period_of(self, clause: str, after: int) -> str | None:
        """The period a status phrase is about: the first period named after it (or before
        it, when none is); ``_ELSEWHEN`` when that is a period the pack does not show (a
        quarter of the forecast, say), so the phrase is not judged against a status."""
        lowered = clause.lower()
        for nearest, words in ((0, lowered[after:]), (-1, lowered[:after])):
            spots = [(words.find(name), self.periods[name]) for name in self.period_words
                     if name in words]
            spots += [(match.start(), _ELSEWHEN) for match in _ANY_PERIOD.finditer(words)
                      if not any(name in match.group(0) or match.group(0) in name
                                 for name in self.period_words)]
            if spots:
                return sorted(spots, key=lambda spot: spot[0])[nearest][1]
        return None


#: A period named in words that may not be one the pack shows.
_ANY_PERIOD = re.compile(
    r"\b(?:q[1-4]|h[12]) \d{4}\b|\b(?:january|february|march|april|may|june|july|august|"
    r"september|october|november|december) \d{4}\b|\bweek ending \d{1,2} \w{3} \d{4}\b")
#: What :meth:`SentenceCheck._period_of` says of a period the pack does not show.
_ELSEWHEN = "\0elsewhen"


_STATUS_NAMES = {"green": "On track", "amber": "At risk", "red": "Off track",
                 "no_data": "No data"}


# -- the HTML page ------------------------------------------------------------------------------


@dataclass
class _Stated:
    identity: str
    text: str
    section: str


@dataclass
class _Chart:
    chart_id: str
    alt: str
    section: str


#: The blocks whose text is read as sentences (innermost ones; tables are figures, not prose).
_PROSE = frozenset({"p", "li"})


class _PageReader(HTMLParser):
    """The figures, charts and prose of a pack's HTML page, each with the section it is in."""

    _VOID = frozenset({"img", "br", "hr", "meta", "link", "input", "col", "source", "wbr", "line",
             "circle", "path", "polyline", "rect"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.figures: list[_Stated] = []
        self.charts: list[_Chart] = []
        self.images: list[str] = []  # the alternative texts of images that are no chart
        self.prose: list[tuple[str, str]] = []  # (section, text)
        self.section = "the page"
        self._open: list[list[Any]] = []  # [identity, text parts] of figures being read
        self._text: list[tuple[list[str], list[bool]]] = []  # prose blocks being read
        self._svg: dict[str, str] | None = None
        self._in_table = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "style" or tag == "script":
            self._in_style = True
        if "data-bookmark" in values:
            self.section = values["data-bookmark"]
        if "data-fig" in values:
            self._open.append([values["data-fig"], []])
        if tag == "img" and "data-chart" not in values and values.get("alt"):
            # An image of the commentary: its alternative text is the analyst's own words.
            self.images.append(values["alt"])
        if "data-chart" in values:
            if tag == "img":
                self.charts.append(_Chart(values["data-chart"], values.get("alt", ""),
                                          self.section))
            elif tag == "svg":
                self.charts.append(_Chart(values["data-chart"], values.get("aria-label", ""),
                                          self.section))
        if tag == "table":
            self._in_table += 1
        if tag in self._VOID:
            return
        self.stack.append((tag, values))
        if tag in _PROSE and not self._in_table:
            if self._text:
                self._text[-1][1][0] = True  # the outer block is read as its inner ones
            self._text.append(([], [False]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self._VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._in_style = False
        if tag in self._VOID:
            return
        while self.stack:
            name, values = self.stack.pop()
            if "data-fig" in values and self._open:
                identity, parts = self._open.pop()
                self.figures.append(_Stated(identity, "".join(parts), self.section))
            if name in _PROSE and not self._in_table and self._text:
                parts, nested = self._text.pop()
                if not nested[0]:
                    self.prose.append((self.section, "".join(parts)))
            if name == "table":
                self._in_table -= 1
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_style:
            return
        for item in self._open:
            item[1].append(data)
        for parts, _ in self._text:
            parts.append(data)


def read_page(html: str) -> _PageReader:
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    return reader


def check_html(document: PackDocument, html: str, name: str = "pack.html") -> list[Finding]:
    """Every figure and chart the page prints against the pack's figures and alternative
    texts, and every sentence of its prose against the statuses."""
    figures = document.figures
    page = read_page(html)
    findings = []
    for stated in page.figures:
        place = f"{name}, section '{stated.section}'"
        figure = figures.get(stated.identity)
        if figure is None:
            findings.append(Finding("unknown-figure", place,
                                    f"prints {stated.text.strip()!r} as {stated.identity}, "
                                    "which is not one of the pack's figures"))
        elif normalise(stated.text) != normalise(figure.text):
            findings.append(Finding(
                _kind_rule(split_id(stated.identity)[2]), place,
                f"prints {stated.text.strip()!r} for {stated.identity}; the pack's figure is "
                f"{figure.text!r}"))
    for chart in page.charts:
        expected = document.alt(chart.chart_id).text
        if normalise(chart.alt) != normalise(expected):
            findings.append(Finding(
                "alt-text-differs", f"{name}, section '{chart.section}', chart "
                f"'{chart.chart_id}'", f"says {chart.alt!r}; written from the pack's "
                f"figures it says {expected!r}"))
    scanner = SentenceCheck(document)
    for section, text in page.prose:
        findings += scanner.check(text, f"{name}, section '{section}'")
    return findings


# -- the PDF ------------------------------------------------------------------------------------


#: A figure element of the PDF's structure tree, as WeasyPrint writes it (one object a line).
_FIGURE_ELEMENT = re.compile(rb"/S\s*/Figure\b[^\n]*")
_PAGE_OF = re.compile(rb"/Pg\s+(\d+)\s+0\s+R")
_ALT = re.compile(rb"/Alt\s*")
_PAGE_TREE = re.compile(rb"/Type\s*/Pages\b[^\n]*?/Kids\s*\[([^\]]*)\]")


def pdf_alt_texts(pdf: bytes) -> list[tuple[int, str]]:
    """Every figure's alternative text in a tagged PDF, with its page (1-based; 0 unknown).

    The structure tree has an element for every span of text; walking it object by object
    takes seconds, so the figure elements are found in the (decompressed) object streams and
    the file itself, and only their alternative texts are parsed."""
    from pypdf import PdfReader  # deferred: only the audit reads PDFs
    from pypdf.generic import IndirectObject, read_object

    reader = PdfReader(io.BytesIO(pdf))
    streams = sorted({number for number, _ in reader.xref_objStm.values()})
    chunks = [pdf] + [reader.get_object(IndirectObject(number, 0, reader))
                      .get_data() for number in streams]  # type: ignore[union-attr]
    pages = _page_numbers(chunks)
    found: list[tuple[int, str]] = []
    for chunk in chunks:
        for element in _FIGURE_ELEMENT.finditer(chunk):
            line = element.group(0)
            alt = _ALT.search(line)
            if alt is None:
                continue
            text = read_object(io.BytesIO(line[alt.end():]), reader)
            page = _PAGE_OF.search(line)
            found.append((pages.get(int(page.group(1)), 0) if page else 0, str(text)))
    return found


def _page_numbers(chunks: Sequence[bytes]) -> dict[int, int]:
    """Page object number → page number (1-based), from the page tree's ``/Kids`` as written
    (resolving any object of an object stream makes pypdf parse all of them)."""
    for chunk in chunks:
        for tree in _PAGE_TREE.finditer(chunk):
            refs = re.findall(rb"(\d+)\s+0\s+R", tree.group(1))
            return {int(ref): number for number, ref in enumerate(refs, start=1)}
    return {}


def check_pdf(document: PackDocument, html: str, pdf: bytes,
              name: str = "pack.pdf") -> list[Finding]:
    """The PDF's alternative texts are the page's: a chart's written from the pack's figures,
    an image of the commentary's as its analyst wrote it."""
    reader = read_page(html)
    expected = Counter([*(normalise(chart.alt) for chart in reader.charts),
                        *(normalise(alt) for alt in reader.images)])
    known = {normalise(alt.text) for alt in document.alts.values()}
    findings = []
    for page, alt in pdf_alt_texts(pdf):
        said = normalise(alt)
        if said in expected and expected[said] > 0:
            expected[said] -= 1
        elif said and said not in known:
            findings.append(Finding("alt-text-differs", f"{name}, page {page}",
                                    f"a figure's alternative text says {alt!r}, which is not "
                                    "written from the pack's figures"))
    for said, left in expected.items():
        if left > 0 and said:
            findings.append(Finding("alt-text-differs", name,
                                    f"no figure carries the alternative text {said!r}"))
    return findings


# -- everything ---------------------------------------------------------------------------------


def audit(document: PackDocument, html: str, pdf: bytes | None = None) -> list[Finding]:
    """Every contradiction of the pack (see the module), the document's own first."""
    findings = check_document(document) + check_html(document, html)
    if pdf is not None:
        findings += check_pdf(document, html, pdf)
    return _unique(findings)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    """Each contradiction once, where it is first found (the commentary or outlook sentence
    the page prints again)."""
    seen: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.rule, finding.message), finding)
    return list(seen.values())
