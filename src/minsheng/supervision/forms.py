"""Forms of supervision: they parse input only; the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from minsheng.appeals.services import REASON_MAX


class RemindForm(forms.Form):
    reason = forms.CharField(
        label=_("Message to the unit (optional)"),
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OrderForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the supervision order"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ResponseForm(forms.Form):
    response = forms.CharField(
        label=_("Your answer"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
