"""shop.widgets write exactly what Django's widget templates render."""

import datetime

import pytest
from django import forms

from shop import widgets

CHOICES = [("", "---------"), ("a", "A & B"), ("b", '"quoted"'), ("Group", [("g1", "<g1>"), ("g2", "g2")])]
CASES = [
    (widgets.TextInput, forms.TextInput, {"placeholder": "订单号 & <tracking>"}, "x", "AS-1 <b>"),
    (widgets.TextInput, forms.TextInput, {}, "x", None),
    (widgets.NumberInput, forms.NumberInput, {"min": 1, "step": "0.01", "class": "short"}, "n", 12),
    (widgets.DateInput, forms.DateInput, {"type": "date"}, "d", datetime.date(2026, 11, 23)),
    (widgets.DateInput, forms.DateInput, {"type": "date", "required": True, "disabled": False}, "d", ""),
    (widgets.CheckboxInput, forms.CheckboxInput, {}, "c", True),
    (widgets.CheckboxInput, forms.CheckboxInput, {"id": "id_c"}, "c", False),
]


@pytest.mark.parametrize(("fast", "stock", "attrs", "name", "value"), CASES)
def test_an_input_renders_as_djangos_template_does(fast, stock, attrs, name, value):
    assert fast(attrs=attrs).render(name, value, attrs={"id": f"id_{name}"}) == stock(attrs=attrs).render(
        name, value, attrs={"id": f"id_{name}"}
    )


@pytest.mark.parametrize("value", [None, "", "a", "b", "g2", "missing"])
@pytest.mark.parametrize("attrs", [{}, {"class": "short", "data-x": "1 & 2"}])
def test_a_select_renders_as_djangos_template_does(value, attrs):
    fast = widgets.Select(attrs=attrs, choices=CHOICES).render("s", value, attrs={"id": "id_s"})
    stock = forms.Select(attrs=attrs, choices=CHOICES).render("s", value, attrs={"id": "id_s"})
    assert fast == stock
