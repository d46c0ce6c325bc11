"""Small, dependency-free SVG charts for the self-contained report. Every data mark is a ``<rect class="mark">``
with a ``<title>`` (its value), so a browser test can count what was drawn."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#d9822b", "#2b6cb0", "#2f855a", "#805ad5")
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, name: str, body: list[str]) -> str:
    return (
        f'<svg class="plot" data-plot="{escape(name)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(name)}">'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT} {extra}>{escape(text)}</text>'


def bar_chart(
    name: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    unit: str,
    *,
    width: int = 640,
    height: int = 240,
    y_max: float | None = None,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series."""
    left, right, top, bottom = 48, 12, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = y_max or max([v for _, values in series for v in values] + [0.0])
    peak = peak or 1.0
    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ddd"/>']
    for i in range(5):  # y grid and labels
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        body.append(_text(left - 4, y + 4, f"{value:.0f}", anchor="end"))
    body.append(_text(4, top - 8, unit, anchor="start"))
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        body.append(_text(left + (c + 0.5) * group_w, top + plot_h + 14, category))
        for s, (label, values) in enumerate(series):
            value = values[c]
            h = plot_h * min(value, peak) / peak
            body.append(
                f'<rect class="mark" x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w * 0.92:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(category)} {escape(label)}: '
                f"{value:.1f} {escape(unit)}</title></rect>"
            )
    for s, (label, _) in enumerate(series):  # legend
        x = left + s * 130
        body.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        body.append(_text(x + 14, height - 5, label, anchor="start"))
    return _svg(width, height, name, body)


def heatmap(name: str, rows: Sequence[str], cells: Sequence[Sequence[float]], unit: str, vmax: float) -> str:
    """Rows x 24 hours; colour from white (0) to deep orange (``vmax``)."""
    left, top, cell_w, cell_h = 90, 22, 22, 20
    width, height = left + 24 * cell_w + 10, top + len(rows) * cell_h + 30
    body = [_text(left + h * cell_w + cell_w / 2, top - 6, f"{h:02d}") for h in range(0, 24, 2)]
    for r, label in enumerate(rows):
        y = top + r * cell_h
        body.append(_text(left - 6, y + cell_h * 0.7, label, anchor="end"))
        for h, value in enumerate(cells[r]):
            x = left + h * cell_w
            if value <= 0:
                body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" fill="#f4f4f4"/>')
                continue
            share = min(value / vmax, 1.0)
            g, b = round(235 - 140 * share), round(220 - 200 * share)
            body.append(
                f'<rect class="mark" x="{x}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" '
                f'fill="rgb(240,{g},{b})"><title>{escape(label)} {h:02d}:00: {value:.1f} {escape(unit)}</title></rect>'
            )
    body.append(_text(left, height - 8, f"hour of day; darkest = {vmax:.0f} {unit}", anchor="start"))
    return _svg(width, height, name, body)
