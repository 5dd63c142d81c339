"""The statistics filter as a form: what the pages show; ``selectors.parse_filter`` decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from minsheng.appeals.choices import AppealType, Channel
from minsheng.appeals.forms.console import flat_category_choices, unit_choices
from minsheng.appeals.models import Category
from minsheng.org.models import OrgUnit
from minsheng.ui.widgets import ListSelect

GRAINS = [("day", _("By day")), ("week", _("By week")), ("month", _("By month"))]


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class StatsFilterForm(forms.Form):
    from_ = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    to = forms.DateField(
        label=_("Received to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    unit = forms.ChoiceField(label=_("Lead unit"), required=False, widget=ListSelect)
    place = forms.ChoiceField(label=_("Place"), required=False, widget=ListSelect)
    category = forms.ChoiceField(label=_("Category"), required=False, widget=ListSelect)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    type = forms.ChoiceField(label=_("Type"), required=False)
    grain = forms.ChoiceField(label=_("Trend"), required=False, choices=GRAINS)

    def __init__(
        self,
        *args: Any,
        units: Sequence[OrgUnit] = (),
        categories: Sequence[Category] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the field is named from_ and rendered as "from".
        self.fields["from"] = self.fields.pop("from_")
        self.order_fields(["from", "to", "unit", "place", "category", "channel", "type", "grain"])
        any_ = _("Any")
        self.fields["unit"].choices = _blank(_("All in my scope")) + unit_choices(units)
        places = [u for u in units if u.is_territorial]
        self.fields["place"].choices = _blank(any_) + unit_choices(places)
        self.fields["category"].choices = _blank(any_) + flat_category_choices(categories)
        self.fields["channel"].choices = _blank(any_) + list(Channel.choices)
        self.fields["type"].choices = _blank(any_) + list(AppealType.choices)
