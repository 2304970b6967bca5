"""Charts as inline SVG, drawn on the server: no script, no chart library.

Every text in a chart is escaped. Colours come from CSS classes in
dashboard.css, because the site's Content-Security-Policy forbids inline styles.
Heat-map shades use the fill-opacity attribute, which is not a style.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
BAR_AREA_HEIGHT = 160
LABEL_HEIGHT = 36
LEFT_MARGIN = 36


@dataclass(frozen=True)
class Series:
    """One stacked layer of a bar chart: its name, CSS class and one value per bar."""

    name: str
    css_class: str
    values: Sequence[int]


def _scale_top(maximum: int) -> int:
    """Return a round axis maximum at or above maximum, at least 1."""
    if maximum <= 5:
        return max(maximum, 1)
    step = 10 ** (len(str(maximum)) - 1)
    return -(-maximum // step) * step


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label_every: int = 1,
) -> SafeString:
    """Draw stacked bars, one per label, with the axis maximum and a legend.

    Only every label_every-th label is written under its bar, so that a 90-day
    chart stays readable on a phone. Each bar's tooltip contains its label anyway.
    """
    totals = [
        sum(layer.values[index] for layer in series) for index in range(len(labels))
    ]
    top = _scale_top(max(totals, default=0))
    count = max(len(labels), 1)
    slot = (WIDTH - LEFT_MARGIN) / count
    bar_width = max(slot * 0.8, 1.0)
    height = BAR_AREA_HEIGHT + LABEL_HEIGHT
    parts = [
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
            "<title>{}</title>",
            WIDTH,
            height,
            title,
            title,
        ),
        format_html(
            '<text class="axis" x="0" y="12">{}</text>'
            '<text class="axis" x="0" y="{}">0</text>'
            '<line class="baseline" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            top,
            BAR_AREA_HEIGHT,
            LEFT_MARGIN,
            BAR_AREA_HEIGHT,
            WIDTH,
            BAR_AREA_HEIGHT,
        ),
    ]
    for index, label in enumerate(labels):
        x = LEFT_MARGIN + index * slot + (slot - bar_width) / 2
        base = float(BAR_AREA_HEIGHT)
        for layer in series:
            value = layer.values[index]
            if value <= 0:
                continue
            bar_height = value / top * (BAR_AREA_HEIGHT - 16)
            base -= bar_height
            parts.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}: {} {}</title></rect>",
                    layer.css_class,
                    f"{x:.1f}",
                    f"{base:.1f}",
                    f"{bar_width:.1f}",
                    f"{bar_height:.1f}",
                    label,
                    value,
                    layer.name,
                )
            )
        if index % label_every == 0:
            parts.append(
                format_html(
                    '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{x + bar_width / 2:.1f}",
                    BAR_AREA_HEIGHT + 14,
                    label,
                )
            )
    legend_x = LEFT_MARGIN
    for layer in series:
        parts.append(
            format_html(
                '<rect class="{}" x="{}" y="{}" width="10" height="10"/>'
                '<text class="legend" x="{}" y="{}">{}</text>',
                layer.css_class,
                legend_x,
                height - 10,
                legend_x + 14,
                height - 1,
                layer.name,
            )
        )
        legend_x += 14 + 8 * len(layer.name) + 16
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part was escaped above


def heatmap(
    title: str,
    grid: Sequence[Sequence[int]],
    row_labels: Sequence[str],
) -> SafeString:
    """Draw a weekday-by-hour grid whose cells grow more opaque with their count."""
    cell = 22
    left = 44
    top = 16
    width = left + 24 * cell
    height = top + len(grid) * cell
    maximum = max((value for row in grid for value in row), default=0)
    parts = [
        format_html(
            '<svg class="chart heatmap" viewBox="0 0 {} {}" role="img" '
            'aria-label="{}"><title>{}</title>',
            width,
            height,
            title,
            title,
        )
    ]
    for hour in range(0, 24, 3):
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="11">{}</text>',
                left + hour * cell + 2,
                f"{hour:02d}",
            )
        )
    for row_index, row in enumerate(grid):
        y = top + row_index * cell
        parts.append(
            format_html(
                '<text class="label" x="0" y="{}">{}</text>',
                y + 15,
                row_labels[row_index],
            )
        )
        for hour, value in enumerate(row):
            opacity = value / maximum if maximum else 0.0
            parts.append(
                format_html(
                    '<rect class="heat" x="{}" y="{}" width="{}" height="{}" '
                    'fill-opacity="{}"><title>{} {}:00 · {}</title></rect>',
                    left + hour * cell,
                    y,
                    cell - 2,
                    cell - 2,
                    f"{0.08 + 0.92 * opacity:.2f}" if value else "0.04",
                    row_labels[row_index],
                    f"{hour:02d}",
                    value,
                )
            )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part was escaped above
