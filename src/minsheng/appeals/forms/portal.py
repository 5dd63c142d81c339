"""Forms of the citizen portal: they parse what a citizen typed; the services decide the rest.

Labels are plain words for someone who has never heard of an "appeal type"; every message
goes through gettext with an English msgid (Chinese is added in the locale files).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import DomainError
from minsheng.org.choices import UnitKind
from minsheng.org.models import OrgUnit

from .. import citizen_login, services
from ..choices import AppealType, Rating
from ..models import Category

SIX_PLACES = Decimal("0.000001")

# What each type means, in the citizen's words (the order is the order on the page).
PLAIN_TYPES = [
    (AppealType.COMPLAINT, _("Complaint: something is wrong and should be put right")),
    (AppealType.HELP, _("Request for help: I have a difficulty and need help")),
    (AppealType.CONSULTATION, _("Question: I want to know a rule or how to do something")),
    (AppealType.SUGGESTION, _("Suggestion: an idea to make things better")),
    (AppealType.REPORT, _("Report: someone is breaking the rules")),
    (AppealType.PRAISE, _("Praise: I want to thank someone")),
]

PLAIN_RATINGS = [
    (Rating.SATISFIED, _("Satisfied")),
    (Rating.BASICALLY_SATISFIED, _("Mostly satisfied")),
    (Rating.UNSATISFIED, _("Not satisfied")),
]

SOLVED_CHOICES = [
    ("yes", _("Yes, it was solved")),
    ("no", _("No, it was not solved")),
    ("unsure", _("I am not sure")),
]

_TOWNSHIP_KINDS = (UnitKind.TOWNSHIP, UnitKind.STREET)
_VILLAGE_KINDS = (UnitKind.VILLAGE, UnitKind.COMMUNITY)


def new_submission_key() -> str:
    """A random key made when the form is shown; the same page sent twice carries it twice."""
    return secrets.token_urlsafe(24)


def category_choices() -> list[tuple[Any, Any]]:
    """``<optgroup>`` per level-1 category, its subcategories inside (one query)."""
    rows = list(
        Category.objects.filter(is_active=True).only("pk", "name", "parent_id").order_by("code")
    )
    by_id = {c.pk: c for c in rows}
    groups: dict[int, list[tuple[str, str]]] = {c.pk: [] for c in rows if c.parent_id is None}
    for category in rows:
        if category.parent_id is None:
            continue
        # Walk up to the level-1 ancestor; a level-3 category reads "level 2 › level 3".
        names = [category.name]
        parent = by_id.get(category.parent_id)
        while parent is not None and parent.parent_id is not None:
            names.insert(0, parent.name)
            parent = by_id.get(parent.parent_id)
        if parent is not None and parent.pk in groups:
            groups[parent.pk].append((str(category.pk), " › ".join(names)))
    choices: list[tuple[Any, Any]] = [("", _("Not sure"))]
    for top_id, options in groups.items():
        top = by_id[top_id]
        # A level-1 category with no subcategories is offered on its own.
        choices.append((top.name, options or [(str(top.pk), top.name)]))
    return choices


def place_choices() -> list[tuple[Any, Any]]:
    """``<optgroup>`` per township or street, listing its villages and communities (one query).

    Without JavaScript one grouped select does the work of the two linked pickers; the first
    option of each group is the township itself, for citizens unsure of the village.
    """
    rows = list(
        OrgUnit.objects.filter(is_active=True, kind__in=(*_TOWNSHIP_KINDS, *_VILLAGE_KINDS))
        .only("pk", "name", "kind", "parent_id", "path")
        .order_by("path")
    )
    towns = [u for u in rows if u.kind in _TOWNSHIP_KINDS]
    villages: dict[int, list[OrgUnit]] = {}
    for unit in rows:
        if unit.kind in _VILLAGE_KINDS and unit.parent_id is not None:
            villages.setdefault(unit.parent_id, []).append(unit)
    choices: list[tuple[Any, Any]] = [("", _("Choose the village or community"))]
    for town in towns:
        options = [
            (
                str(town.pk),
                _("%(name)s — not sure which village or community") % {"name": town.name},
            )
        ]
        options += [(str(v.pk), v.name) for v in villages.get(town.pk, [])]
        choices.append((town.name, options))
    return choices


class DescribedForm(forms.Form):
    """Links each input to its hint and error text (``aria-describedby``) once validated."""

    def full_clean(self) -> None:
        super().full_clean()
        self.describe()

    def describe(self) -> None:
        for name, field in self.fields.items():
            bound = self[name]
            ids = []
            if field.help_text:
                ids.append(f"{bound.auto_id}_hint")
            if self.is_bound and name in self.errors:
                ids.append(f"{bound.auto_id}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if ids:
                field.widget.attrs["aria-describedby"] = " ".join(ids)


class SubmitForm(DescribedForm):
    submission_key = forms.CharField(widget=forms.HiddenInput, max_length=128)
    appeal_type = forms.ChoiceField(
        label=_("What kind of matter is it?"), choices=PLAIN_TYPES, widget=forms.RadioSelect
    )
    category = forms.TypedChoiceField(
        label=_("Topic"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Optional. If you are not sure, leave it; the service centre will choose."),
    )
    place = forms.TypedChoiceField(
        label=_("Where is it?"),
        coerce=int,
        help_text=_("Choose the village or community; the list is grouped by township and street."),
        error_messages={"required": _("Please choose where it is.")},
    )
    address = forms.CharField(
        label=_("Street address or landmark"),
        max_length=200,
        required=False,
        help_text=_("Optional. For example: the east gate of the market, building 3."),
    )
    text = forms.CharField(
        label=_("Tell us what happened and what you would like done"),
        max_length=services.CONTENT_MAX,
        widget=forms.Textarea(attrs={"rows": 7}),
        error_messages={"required": _("Please describe the matter in a few words.")},
    )
    name = forms.CharField(
        label=_("Your name"),
        max_length=50,
        required=False,
        help_text=_("Optional. It is shown only to the staff who handle your appeal."),
    )
    phone = forms.CharField(
        label=_("Your phone number"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        help_text=_(
            "We call you back on it, and you need it to follow your appeal. "
            "Required unless you stay anonymous."
        ),
    )
    anonymous = forms.BooleanField(
        label=_("Stay anonymous (we will not be able to call you back)"), required=False
    )
    # Filled by "Use my location" (the phone's position, with the citizen's permission).
    latitude = forms.DecimalField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput
    )
    longitude = forms.DecimalField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()
        self.fields["place"].choices = place_choices()
        self.fields["name"].widget.attrs["autocomplete"] = "name"

    def clean(self) -> dict[str, Any]:
        """A position is both coordinates, to the metre (6 decimals), or none."""
        data = super().clean()
        latitude, longitude = data.get("latitude"), data.get("longitude")
        broken = "latitude" in self.errors or "longitude" in self.errors
        if broken or (latitude is None) != (longitude is None):
            # Only a tampered page sends this; the page comes back without the position, so
            # sending it again works.
            self.errors.pop("latitude", None)
            self.errors.pop("longitude", None)
            self.data = self.data.copy()
            self.data["latitude"] = self.data["longitude"] = ""
            self.add_error(None, _("Your location could not be read. Send again without it."))
        elif latitude is not None and longitude is not None:
            data["latitude"] = latitude.quantize(SIX_PLACES)
            data["longitude"] = longitude.quantize(SIX_PLACES)
        return data

    def clean_phone(self) -> str:
        """Check the format at once, so it is reported with the other fields' problems."""
        phone = self.cleaned_data["phone"].strip()
        if phone:
            try:
                services.normalize_phone(phone)
            except DomainError as error:
                raise forms.ValidationError(error.error.message, code=error.code) from None
        return phone


class TrackForm(DescribedForm):
    tracking_code = forms.CharField(
        label=_("Tracking code"),
        max_length=32,
        help_text=_("The code you got when you submitted, for example ABC DEF GHJK."),
        error_messages={"required": _("Please enter your tracking code.")},
        widget=forms.TextInput(
            attrs={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    phone = forms.CharField(
        label=_("The phone number you gave"),
        max_length=20,
        required=False,
        help_text=_("Leave it empty only if you gave no phone number."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_tracking_code(self) -> str:
        return services.normalize_tracking_code(self.cleaned_data["tracking_code"])


class SupplementForm(DescribedForm):
    submission_key = forms.CharField(widget=forms.HiddenInput, max_length=128)
    text = forms.CharField(
        label=_("What would you like to add?"),
        max_length=services.CONTENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("New information, or photos below. Either is enough."),
    )


class RateForm(DescribedForm):
    rating = forms.ChoiceField(
        label=_("How satisfied are you with how your appeal was handled?"),
        choices=PLAIN_RATINGS,
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose one answer.")},
    )
    solved = forms.ChoiceField(
        label=_("Was the problem solved?"),
        choices=SOLVED_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose one answer.")},
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional."),
    )

    def solved_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data["solved"])


class PhoneLoginForm(DescribedForm):
    """Step 1 of "My appeals": the phone number a login code is texted to."""

    phone = forms.CharField(
        label=_("Your phone number"),
        max_length=20,
        help_text=_("The number you gave with your appeals. We text a 6-digit code to it."),
        error_messages={"required": _("Please enter your phone number.")},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_phone(self) -> str:
        """The number as the appeals store it (digits only); it must be able to get a text."""
        try:
            return citizen_login.mobile_number(self.cleaned_data["phone"].strip())
        except DomainError as error:
            raise forms.ValidationError(error.error.message, code=error.code) from None


class LoginCodeForm(DescribedForm):
    """Step 2 of "My appeals": the code from the text message."""

    code = forms.CharField(
        label=_("Code from the text message"),
        max_length=20,
        help_text=_("6 digits."),
        error_messages={"required": _("Please enter the code from the text message.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "spellcheck": "false",
            }
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise forms.ValidationError(
                _("The code is 6 digits, for example 123456."), code="code_format"
            )
        return code
