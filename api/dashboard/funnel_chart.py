"""The link page's funnel chart: server-rendered SVG (no script, no build step), one group of
bars per UTC day of the last 30: opens behind sessions behind completed checkouts. The SVG stretches
to its box (any width, 390 px included) and carries no text of its own; the page beside it says the
totals, the scale and every day in a table, and the SVG has a title and description for screen readers."""
from __future__ import annotations

from dataclasses import dataclass

from domain.funnel import Funnel

WIDTH, HEIGHT = 300, 100  # the viewBox; the SVG is drawn at 100% width and a fixed CSS height
SERIES = (("opens", "Opens"), ("sessions", "Sessions stored"), ("completed", "Completed"))


@dataclass(frozen=True)
class Bar:
    series: str
    x: float
    y: float
    width: float
    height: float
    title: str


def bars(found: Funnel) -> list[Bar]:
    """Each day's three bars, nested: the wider the bar, the earlier the step of the funnel."""
    peak = max(found.peak, 1)
    slot = WIDTH / max(len(found.days), 1)
    made: list[Bar] = []
    for index, day in enumerate(found.days):
        label = day.day.strftime("%-d %b")
        for step, (name, words) in enumerate(SERIES):
            value = getattr(day, name)
            if not value:
                continue
            inset = slot * (0.1 + 0.12 * step)
            height = HEIGHT * value / peak
            made.append(Bar(name, round(index * slot + inset, 2), round(HEIGHT - height, 2),
                            round(slot - 2 * inset, 2), round(height, 2), f"{label}: {value} {words.lower()}"))
    return made


def description(found: Funnel) -> str:
    return (f"{found.total('opens')} opens, {found.total('sessions')} sessions stored and "
            f"{found.total('completed')} completed over {len(found.days)} days; the busiest day had {found.peak}.")
