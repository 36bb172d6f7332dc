"""The deadline's countdown on pages, worded as on the workbench ("4 天 5 小时", never Django's "4 日")."""

from django import template

from aftersales.tables import countdown as _countdown

register = template.Library()


@register.filter
def countdown(deadline, now):
    """`{{ after_sale.deadline|countdown:now }}`: the same words as the workbench's "time left" column."""
    return _countdown(deadline, now)
