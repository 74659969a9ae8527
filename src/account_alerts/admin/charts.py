"""Bar charts as plain shapes for an inline SVG: the template draws what this computes,
so the browser needs no chart library (and the page no script) to show them."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 480
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 170


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    shown: str
    y: int
    width: int
    tone: str


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = WIDTH

    @property
    def summary(self) -> str:
        """The chart in words, for screen readers (the SVG's title)."""
        return f"{self.title}: " + "; ".join(f"{bar.label} {bar.shown}" for bar in self.bars)


def bar_chart(
    title: str,
    values: list[tuple[str, int]],
    *,
    shown: list[str] | None = None,
    tones: list[str] | None = None,
) -> BarChart:
    most = max((value for _, value in values), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 60
    bars = [
        Bar(
            label=label,
            value=value,
            shown=(shown[index] if shown else str(value)),
            y=index * (BAR_HEIGHT + GAP),
            width=max(1, round(room * value / most)) if value else 0,
            tone=(tones[index] if tones else "main"),
        )
        for index, (label, value) in enumerate(values)
    ]
    return BarChart(title=title, bars=bars, height=max(1, len(bars)) * (BAR_HEIGHT + GAP))


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "no data"
