"""Labels of codes that pages show (`{% load labels %}{{ line.category|category_label }}`)."""

from django import template

from shop.categories import category_label as _category_label

register = template.Library()


@register.filter
def category_label(code: str) -> str:
    return _category_label(code)
