from django import template

from layanan.dashboard.statistics import Compliance, RatingSummary
from layanan.dashboard.tiles import NO_VALUE, format_number, format_percent

register = template.Library()


@register.filter
def compliance(value: Compliance) -> str:
    """Render a compliance as "75.0% (3 of 4)"."""
    return f"{format_percent(value.percent)} ({value.met}/{value.measured})"


@register.filter
def rating_average(value: RatingSummary) -> str:
    return NO_VALUE if value.average is None else format_number(value.average, 2)
