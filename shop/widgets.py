"""Form widgets that write their HTML in Python rather than through the form renderer's templates.

Django renders a <select> through a template that includes one more template per option and another
per attribute list: on the workbench, whose filter and bulk forms carry some fifty options, that is
a third of the page's time. These widgets write exactly the markup of Django's templates
(tests/shop/test_widgets.py compares them), so they can stand in for the stock ones on hot pages.
"""

from html import escape

from django import forms
from django.utils.safestring import mark_safe


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html"""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {escape(str(name))}" if value is True else f' {escape(str(name))}="{escape(str(value))}"')
    return "".join(out)


class FastInputMixin:
    """django/forms/widgets/input.html (text, number, date, checkbox…)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        value_html = "" if widget["value"] is None else f' value="{escape(str(widget["value"]))}"'
        return mark_safe(
            f'<input type="{escape(str(widget["type"]))}" name="{escape(widget["name"])}"'
            f"{value_html}{_attrs(widget['attrs'])}>"
        )


class FastSelectMixin:
    """django/forms/widgets/select.html with select_option.html (optgroups included)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        out = [f'<select name="{escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                out.append(f'\n  <optgroup label="{escape(str(group_name))}">')
            for option in group_choices:
                out.append(
                    f'\n  <option value="{escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                    f"{escape(str(option['label']))}</option>\n"
                )
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")  # the renderer strips the template's last newline
        return mark_safe("".join(out))


class TextInput(FastInputMixin, forms.TextInput):
    pass


class NumberInput(FastInputMixin, forms.NumberInput):
    pass


class DateInput(FastInputMixin, forms.DateInput):
    pass


class CheckboxInput(FastInputMixin, forms.CheckboxInput):
    pass


class Select(FastSelectMixin, forms.Select):
    pass
