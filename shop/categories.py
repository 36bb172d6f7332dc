"""Labels of the platform's product-category codes (a line's `category`, as the platform sends it).

The platform names categories by code; pages and exports show the label. A code the platform adds
later and this table does not know yet is shown as it came: nothing is lost, and the translation
guard's demo pages keep the table complete for the codes we see.
"""

from django.utils.translation import gettext_lazy

CATEGORY_LABELS = {
    "apparel": gettext_lazy("apparel"),
    "appliances": gettext_lazy("home appliances"),
    "baby": gettext_lazy("mother and baby"),
    "beauty": gettext_lazy("beauty"),
    "customized": gettext_lazy("customised goods"),
    "digital": gettext_lazy("digital"),
    "food": gettext_lazy("food and drink"),
    "fresh": gettext_lazy("fresh food"),
    "home": gettext_lazy("home"),
    "personal_care": gettext_lazy("personal care"),
    "pets": gettext_lazy("pet supplies"),
    "toys": gettext_lazy("toys"),
    "virtual": gettext_lazy("virtual goods"),
}


def category_label(code: str) -> str:
    """The category's label in the active language, or the code itself when it is not known."""
    label = CATEGORY_LABELS.get(code)
    return str(label) if label is not None else code
