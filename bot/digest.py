"""The weekly digest (件件有回音, made visible): gathered from the database, written as text, drawn
as a chart.

``gather(config, tx, start, end)`` reads one week: per building and for the whole compound, the
tickets opened, acknowledged, resolved and still open at the week's end, the median time to
acknowledge and to resolve, the oldest open tickets (number, category, age — never a unit or a phone
number), and, once the volunteers and rota capabilities provide them, volunteer hours and rota shifts
covered.  ``building_text`` / ``compound_text`` write it in a language; ``render_chart`` draws open
vs resolved per building and per category as a PNG with matplotlib's Agg canvas (headless, no
pyplot state), its Chinese labels in the font shipped in ``bot/fonts/``.  The returned
:class:`Chart` carries the bar heights read back from the drawn figure, so a test can compare what
was drawn with the database.
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.format import format_span, join
from bot.i18n import LANGUAGES, t
from storage.reports import Tally
from storage.satisfaction import Share
from storage.tickets import Ticket

FONT = Path(__file__).parent / "fonts" / "LinliSansSC-Regular.otf"
FONT_FAMILY = "Linli Sans SC"
CHART_SIZE = (10.0, 8.0)  # inches; at CHART_DPI this is the PNG's size in pixels
CHART_DPI = 100


@dataclass
class Week:
    """One building's week (``key`` "" is the whole compound)."""

    key: str
    name: str
    tally: Tally = field(default_factory=Tally)
    ack_median: float | None = None  # seconds
    fix_median: float | None = None
    oldest: list[Ticket] = field(default_factory=list)
    volunteer_hours: float | None = None  # None: no volunteers capability
    shifts: tuple[int, int] | None = None  # (covered, total); None: no rota capability

    @property
    def quiet(self) -> bool:
        return self.tally == Tally() and not self.volunteer_hours and not (self.shifts or (0, 0))[1]


@dataclass
class Digest:
    week: str  # ISO week, e.g. "2026-W48"
    start: datetime
    end: datetime
    compound: Week
    buildings: dict[str, Week]
    categories: dict[str, Tally]
    # ratings given in the week (满意度): per category, and per name of who resolved the ticket
    satisfaction: tuple[dict[str, Share], dict[str, Share]] = ({}, {})
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # code → lang → name ([categories])


@dataclass(frozen=True)
class Chart:
    """A rendered chart: the PNG, its size in pixels, and what its bars show (read from the figure:
    panel → series → {label: height})."""

    png: bytes
    width: int
    height: int
    drawn: dict[str, dict[str, dict[str, float]]]


# --- weeks --------------------------------------------------------------------------------------
def week_bounds(week: str, tz) -> tuple[datetime, datetime]:
    """``"2026-W48"`` → (that Monday 00:00, the next Monday 00:00) in ``tz``; ValueError if bad."""
    try:
        year, number = week.upper().split("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
    except ValueError as exc:
        raise ValueError(f"not an ISO week: {week!r} (write it like 2026-W48)") from exc
    start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    return start, start + timedelta(days=7)


def week_before(moment: datetime) -> str:
    """The ISO week before the one ``moment`` is in (a Monday digest covers last week)."""
    year, number, _ = (moment - timedelta(days=7)).isocalendar()
    return f"{year}-W{number:02d}"


# --- gathering ----------------------------------------------------------------------------------
async def gather(config, tx, start: datetime, end: datetime, oldest: int = 3) -> Digest:
    """Read one week from the database (see module docstring)."""
    s, e = start.timestamp(), end.timestamp()
    by_building = await tx.reports.tallies(s, e, "building")
    names = {b.key: b.name for b in config.building_list()}
    with_chats = {c.building for c in config.chats.values() if c.building}
    keys = [k for k in names if k in by_building or k in with_chats]
    keys += [k for k in by_building if k and k not in names]  # a building since removed from config
    buildings = {k: await _week(tx, k, names.get(k, k), by_building.get(k, Tally()), s, e, oldest)
                 for k in keys}
    total = Tally(*(sum(getattr(v, f) for v in by_building.values()) for f in Tally.__slots__))
    compound = await _week(tx, None, config.compound.name, total, s, e, oldest)
    week = f"{start.isocalendar()[0]}-W{start.isocalendar()[1]:02d}"
    categories = await tx.reports.tallies(s, e, "category")
    # grouped by the configured categories, in their order (a code since removed from the config last)
    order = [c.code for c in config.category_list()]
    categories = dict(sorted(categories.items(),
                             key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    names = {code: {lang: config.category_name(code, lang) for lang in LANGUAGES}
             for code in {*order, *categories}}
    return Digest(week, start, end, compound, buildings, categories,
                  await tx.satisfaction.shares(s, e), names)


async def _week(tx, building: str | None, name: str, tally: Tally, start: float, end: float,
                oldest: int) -> Week:
    acks, fixes = await tx.reports.durations(start, end, building)
    week = Week(building or "", name, tally, _median(acks), _median(fixes),
                await tx.reports.oldest_open(end, building, oldest) if oldest else [])
    volunteers = getattr(tx, "volunteers", None)  # the volunteers capability, once it exists
    if volunteers is not None and hasattr(volunteers, "hours_between"):
        week.volunteer_hours = await volunteers.hours_between(start, end, building=building)
    rota = getattr(tx, "rota", None)
    if rota is not None and hasattr(rota, "shifts_covered_between"):
        week.shifts = tuple(await rota.shifts_covered_between(start, end, building=building))
    return week


def category_name(digest: Digest, code: str, lang: str) -> str:
    """A category's name as the config gives it (``[categories]``), else the catalogue's."""
    return digest.names.get(code, {}).get(lang) or t(lang, f"tickets.category.{code}")


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# --- text ---------------------------------------------------------------------------------------
def _span(seconds: float | None, lang: str) -> str:
    return t(lang, "digest.none") if seconds is None else format_span(timedelta(seconds=seconds),
                                                                      lang)


def _period(digest: Digest, lang: str) -> str:
    last = digest.end - timedelta(days=1)
    if lang == "zh":
        return f"{digest.start.month}月{digest.start.day}日–{last.month}月{last.day}日"
    return f"{digest.start:%b} {digest.start.day} – {last:%b} {last.day}"


def _week_lines(week: Week, digest: Digest, lang: str) -> list[str]:
    tally = week.tally
    lines = [t(lang, "digest.counts", opened=tally.opened, acknowledged=tally.acknowledged,
               resolved=tally.resolved, still_open=tally.still_open),
             t(lang, "digest.medians", ack=_span(week.ack_median, lang),
               fix=_span(week.fix_median, lang))]
    if week.oldest:
        items = join(lang, [
            t(lang, "digest.oldest_item", number=ticket.id,
              category=category_name(digest, ticket.category, lang),
              age=format_span(digest.end - datetime.fromtimestamp(ticket.created_at,
                                                                  digest.end.tzinfo), lang))
            for ticket in week.oldest])
        lines.append(t(lang, "digest.oldest", items=items))
    if week.volunteer_hours:  # shown once the volunteers capability counts any
        lines.append(t(lang, "digest.volunteers", hours=f"{week.volunteer_hours:g}"))
    if week.shifts is not None and week.shifts[1]:
        lines.append(t(lang, "digest.shifts", covered=week.shifts[0], total=week.shifts[1]))
    return lines


def building_text(digest: Digest, key: str, lang: str) -> str:
    """The digest for one building's group."""
    week = digest.buildings[key]
    header = t(lang, "digest.header_building", building=week.name, period=_period(digest, lang))
    return "\n".join([header, *_week_lines(week, digest, lang)])


def compound_text(digest: Digest, lang: str) -> str:
    """The digest for the compound group and the committee: the total, then each building."""
    lines = [t(lang, "digest.header_compound", compound=digest.compound.name,
               period=_period(digest, lang)), *_week_lines(digest.compound, digest, lang)]
    active = [w for w in digest.buildings.values() if not w.quiet]
    if active:
        lines.append(t(lang, "digest.per_building"))
    for week in active:
        tally = week.tally
        line = t(lang, "digest.building_line", building=week.name, opened=tally.opened,
                 acknowledged=tally.acknowledged, resolved=tally.resolved,
                 still_open=tally.still_open, fix=_span(week.fix_median, lang))
        lines.append(line)
    if not active:
        lines.append(t(lang, "digest.all_quiet"))
    return "\n".join(lines + satisfaction_lines(digest, lang))


def satisfaction_lines(digest: Digest, lang: str) -> list[str]:
    """The week's ratings as the 12345 hotlines report them: the share satisfied (满意 + 基本满意
    over rated), overall, per category and per captain (who resolved the ticket)."""
    by_category, by_captain = digest.satisfaction
    if not by_category:
        return []
    rated = sum(share.rated for share in by_category.values())
    total = Share(rated, sum(share.satisfied for share in by_category.values()))

    def items(shares: dict[str, Share], name) -> str:
        return join(lang, [t(lang, "satisfaction.digest.item", name=name(key), rated=share.rated,
                             percent=share.percent) for key, share in shares.items()])

    return [t(lang, "satisfaction.digest.header", count=rated, percent=total.percent),
            t(lang, "satisfaction.digest.by_category",
              items=items(by_category, lambda c: category_name(digest, c, lang))),
            t(lang, "satisfaction.digest.by_captain",
              items=items(by_captain, lambda n: n or t(lang, "satisfaction.digest.nobody")))]


# --- the chart ----------------------------------------------------------------------------------
def _font_properties():
    from matplotlib import font_manager

    if FONT_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT))
    return [FONT_FAMILY, "DejaVu Sans"]


def render_chart(digest: Digest, lang: str) -> Chart:
    """Open vs resolved per building and per category, as a PNG (see module docstring)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families = _font_properties()
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
        figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")
        FigureCanvasAgg(figure)
        top, bottom = figure.subplots(2, 1)
        series = (t(lang, "digest.chart_open"), t(lang, "digest.chart_resolved"))
        buildings = [w for w in digest.buildings.values() if not w.quiet] or list(
            digest.buildings.values())
        _bars(top, [w.name for w in buildings],
              [[w.tally.still_open for w in buildings], [w.tally.resolved for w in buildings]],
              series, t(lang, "digest.chart_by_building"))
        categories = sorted(digest.categories, key=lambda c: -digest.categories[c].still_open)
        _bars(bottom, [category_name(digest, c, lang) for c in categories],
              [[digest.categories[c].still_open for c in categories],
               [digest.categories[c].resolved for c in categories]],
              series, t(lang, "digest.chart_by_category"))
        figure.suptitle(t(lang, "digest.chart_title", compound=digest.compound.name,
                          period=_period(digest, lang)), fontsize=14)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=CHART_DPI)
        drawn = {"building": _read_bars(top), "category": _read_bars(bottom)}
    width, height = (round(v * CHART_DPI) for v in CHART_SIZE)
    return Chart(buffer.getvalue(), width, height, drawn)


def _bars(axes, labels: list[str], values: list[list[int]], series: tuple[str, str],
          title: str) -> None:
    positions = range(len(labels))
    width = 0.4
    for index, (name, heights) in enumerate(zip(series, values, strict=True)):
        offset = (index - 0.5) * width
        bars = axes.bar([p + offset for p in positions], heights, width, label=name,
                        color=("#d9534f", "#5cb85c")[index])
        axes.bar_label(bars, fontsize=8, padding=1)
    axes.set_xticks(list(positions), labels, rotation=30 if len(labels) > 8 else 0, ha="right"
                    if len(labels) > 8 else "center")
    axes.set_title(title)
    axes.legend(loc="upper right")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.margins(y=0.15)


def _read_bars(axes) -> dict[str, dict[str, float]]:
    """Each bar series of ``axes`` as {tick label: height}, read back from the drawn artists."""
    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    out = {}
    for container in axes.containers:
        name = container.get_label()
        out[name] = {label: bar.get_height() for label, bar in zip(labels, container.patches,
                                                                    strict=True)}
    return out


# --- a poll's result, in the same style -----------------------------------------------------------
POLL_CHART_SIZE = (8.0, 5.0)


def render_poll_chart(title: str, labels: list[str], counts: list[int], series: str,
                      note: str = "") -> Chart:
    """A poll's result as the digest draws its charts (font, colours, labelled bars): one bar per
    option with its count; ``note`` (turnout) under the title.  Only counts go in: the chart of a
    secret poll can say no more than its result post."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families = _font_properties()
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
        figure = Figure(figsize=POLL_CHART_SIZE, dpi=CHART_DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots(1, 1)
        positions = range(len(labels))
        bars = axes.bar(list(positions), counts, 0.6, label=series, color="#5cb85c")
        axes.bar_label(bars, fontsize=10, padding=1)
        long = len(labels) > 5 or any(len(label) > 8 for label in labels)
        axes.set_xticks(list(positions), labels, rotation=30 if long else 0,
                        ha="right" if long else "center")
        axes.set_title(note)
        axes.legend(loc="upper right")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.margins(y=0.15)
        figure.suptitle(title, fontsize=14)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=CHART_DPI)
        drawn = {"options": _read_bars(axes)}
    width, height = (round(v * CHART_DPI) for v in POLL_CHART_SIZE)
    return Chart(buffer.getvalue(), width, height, drawn)
