"""The hotspot page's filter: a period (at most a year) and a place."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minsheng.appeals.forms.console import unit_choices
from minsheng.org.models import OrgUnit
from minsheng.org.selectors import territory_units

DEFAULT_DAYS = 30
MAX_DAYS = 366


class HotspotFilterForm(forms.Form):
    from_ = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    to = forms.DateField(
        label=_("Received to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    place = forms.ChoiceField(label=_("Place"), required=False)
    hotspot = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the field is named from_ and rendered as "from".
        self.fields["from"] = self.fields.pop("from_")
        self.order_fields(["from", "to", "place", "hotspot"])
        self.places = {u.pk: u for u in territory_units().order_by("path")}
        self.fields["place"].choices = [("", _("Any"))] + unit_choices(self.places.values())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        today = timezone.localdate()
        end: date = data.get("to") or today
        start: date = data.get("from") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The period must start before it ends."))
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("The period can be at most a year."))
        data["start"], data["end"] = start, end
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: from the first day's start to the day after the last."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.cleaned_data["start"], time.min, zone)
        end = datetime.combine(self.cleaned_data["end"] + timedelta(days=1), time.min, zone)
        return start, end

    def territory(self) -> OrgUnit | None:
        raw = self.cleaned_data.get("place")
        return self.places.get(int(raw)) if raw else None
