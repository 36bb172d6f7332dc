from django import forms
from django.utils.translation import gettext_lazy as _

from shop import permissions


def _set_choices(sets):
    return [(one, permissions.LABELS[one]) for one in sets]


class SetsForm(forms.Form):
    sets = forms.MultipleChoiceField(
        label=_("permission sets"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )

    def __init__(self, *args, team_sets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sets"].choices = _set_choices(team_sets)


class AddMemberForm(SetsForm):
    username = forms.CharField(label=_("username"), max_length=150)
    display_name = forms.CharField(label=_("display name"), max_length=150)

    field_order = ["username", "display_name", "sets"]


class EmptyForm(forms.Form):
    """The POST of a button that carries nothing but its CSRF token."""
