"""The service metrics page (售后拒绝率, refund-only handling time, timeouts) with a server-drawn chart."""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.views.generic import TemplateView

from shop.access import MerchantRequiredMixin

from .. import metrics


class ServiceMetricsView(MerchantRequiredMixin, TemplateView):
    template_name = "aftersales/metrics.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        result = metrics.service_metrics(shop=self.shop, days=metrics.DEFAULT_DAYS, now=timezone.now())
        context.update(
            metrics=result,
            days_newest_first=list(reversed(result.days)),
            last_day=result.days[-1].day,
            chart=build_chart(result.days),
        )
        return context


# --- the chart: an inline SVG drawn on the server (the CSP allows no script) ----------------------
WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 16, 40
GRID_STEPS = 4


@dataclass(frozen=True)
class Bar:
    day: date
    applied: int
    rate: Decimal | None
    x: str
    y: str
    width: str
    height: str


@dataclass(frozen=True)
class Point:
    day: date
    rate: Decimal
    x: str
    y: str


@dataclass(frozen=True)
class Tick:
    y: str
    count: int
    percent: str


@dataclass(frozen=True)
class Label:
    day: date
    x: str


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def nice_step(maximum: float, steps: int = GRID_STEPS, minimum_step: float = 1) -> float:
    """The smallest 1-2-2.5-5 × 10ⁿ step so that `steps` of them reach `maximum`."""
    raw = max(maximum / steps, minimum_step)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def build_chart(days: list[metrics.Figures]) -> dict:
    """Bars for applications (left axis), a broken line for the rejection rate (right axis)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    count_step = int(nice_step(max((d.applied for d in days), default=0)))
    rates = [float(d.rejection_rate) for d in days if d.rejection_rate is not None]
    rate_step = min(nice_step(max(rates, default=0), minimum_step=5), 25)
    count_max, rate_max = count_step * GRID_STEPS, rate_step * GRID_STEPS
    bottom = TOP + plot_h

    bars, segments, points, run = [], [], [], []
    for i, figures in enumerate(days):
        centre = LEFT + slot * i + slot / 2
        height = plot_h * figures.applied / count_max
        bars.append(
            Bar(
                day=figures.day,
                applied=figures.applied,
                rate=figures.rejection_rate,
                x=_fmt(centre - slot * 0.3),
                y=_fmt(bottom - height),
                width=_fmt(slot * 0.6),
                height=_fmt(height),
            )
        )
        if figures.rejection_rate is None:
            # No closure that day: no rate, so the line breaks instead of dropping to 0 %.
            if len(run) > 1:
                segments.append(" ".join(run))
            run = []
            continue
        y = bottom - plot_h * float(figures.rejection_rate) / rate_max
        points.append(Point(day=figures.day, rate=figures.rejection_rate, x=_fmt(centre), y=_fmt(y)))
        run.append(f"{_fmt(centre)},{_fmt(y)}")
    if len(run) > 1:
        segments.append(" ".join(run))

    ticks = [
        Tick(
            y=_fmt(bottom - plot_h * step / GRID_STEPS),
            count=count_step * step,
            percent=f"{rate_step * step:g}",
        )
        for step in range(GRID_STEPS + 1)
    ]
    # A date every five days, counted back from today so that today is always labelled.
    labels = [
        Label(day=figures.day, x=_fmt(LEFT + slot * i + slot / 2))
        for i, figures in enumerate(days)
        if (len(days) - 1 - i) % 5 == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": bottom,
        "label_y": bottom + 18,
        "left_label_x": LEFT - 6,
        "right_label_x": WIDTH - RIGHT + 6,
        "bars": bars,
        "segments": segments,
        "points": points,
        "ticks": ticks,
        "labels": labels,
    }
