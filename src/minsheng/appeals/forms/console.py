"""Forms of the staff console: they parse input only; the services decide what is allowed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from minsheng.org.models import OrgUnit

from ..choices import Action, AppealType, Channel, Rating, Status, TimeUnit, Urgency
from ..models import Category

# What the button of each action says (the ``Action`` labels are past-tense event names).
ACTION_BUTTONS: dict[str, Any] = {
    Action.ACCEPT: _("Accept"),
    Action.RETURN: _("Return to the center"),
    Action.TRANSFER: _("Pass down"),
    Action.REQUEST_EXTENSION: _("Request an extension"),
    Action.SUSPEND: _("Suspend"),
    Action.RESUME: _("Resume"),
    Action.REPLY: _("Send the reply for review"),
    Action.DISPATCH: _("Dispatch"),
    Action.REDISPATCH: _("Redispatch"),
    Action.APPROVE_RETURN: _("Approve the return"),
    Action.REJECT_RETURN: _("Reject the return"),
    Action.APPROVE_EXTENSION: _("Approve the extension"),
    Action.REFUSE_EXTENSION: _("Refuse the extension"),
    Action.APPROVE_REPLY: _("Approve the reply and close"),
    Action.REWORK: _("Send back for rework"),
    Action.RATE: _("Record the rating"),
    Action.DIRECT_CLOSE: _("Close directly"),
    Action.INVALIDATE: _("Mark invalid"),
    Action.MERGE: _("Merge"),
    Action.SUPPLEMENT: _("Add the information"),
}

# Service error codes that belong to a form field although their details name none.
ERROR_FIELDS = {
    "unknown_unit": "unit",
    "unit_cannot_handle": "unit",
    "transfer_out_of_subtree": "unit",
    "no_catalogue_entry": "unit",
    "merge_into_self": "into",
    "merge_target_not_open": "into",
    "unknown_category": "category",
    "unknown_territory": "territory",
    "contact_required": "phone",
    "invalid_phone": "phone",
}


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class ServiceRequiredField(forms.CharField):
    """Marked required (label, browser check), but emptiness is left to the service.

    The service decides what counts as empty (blank after trimming) and says so with its own
    error code, so the console and the API refuse the same input with the same message.
    """

    def validate(self, value: Any) -> None:
        return None


def _required_text(label: Any, *, rows: int = 3, max_length: int = 5000) -> forms.CharField:
    return ServiceRequiredField(
        label=label, max_length=max_length, widget=forms.Textarea(attrs={"rows": rows})
    )


def _optional_text(label: Any, *, rows: int = 2) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": rows})
    )


def unit_choices(units: Iterable[OrgUnit], *, min_depth: int = 0) -> list[tuple[str, str]]:
    """Units in tree order, indented by depth so the hierarchy reads without optgroups."""
    return [
        (str(u.pk), "\u3000" * max(u.depth - min_depth, 0) + u.name)
        for u in units
        if u.depth >= min_depth
    ]


def category_choices(categories: Sequence[Category]) -> list[tuple[Any, Any]]:
    """Top-level categories as option groups, their sub-categories as options.

    A top-level category without children is offered on its own.
    """
    children: dict[int, list[Category]] = {}
    for category in categories:
        if category.parent_id is not None:
            children.setdefault(category.parent_id, []).append(category)
    by_id = {c.pk: c for c in categories}

    def descendants(parent: Category, depth: int) -> list[tuple[str, str]]:
        rows = []
        for child in children.get(parent.pk, []):
            rows.append((str(child.pk), "\u3000" * depth + child.name))
            rows += descendants(child, depth + 1)
        return rows

    choices: list[tuple[Any, Any]] = []
    for category in categories:
        if category.parent_id is not None and category.parent_id in by_id:
            continue
        below = descendants(category, 0)
        if below:
            choices.append((category.name, below))
        else:
            choices.append((str(category.pk), category.name))
    return choices


def flat_category_choices(categories: Sequence[Category]) -> list[tuple[str, str]]:
    """Every category selectable (a filter on a parent covers its children), indented."""
    parents = {c.pk: c.parent_id for c in categories}

    def depth(pk: int | None) -> int:
        level = 0
        while pk is not None and parents.get(pk) is not None:
            pk, level = parents[pk], level + 1
        return level

    return [(str(c.pk), "\u3000" * depth(c.pk) + c.name) for c in categories]


def place_choices(units: Sequence[OrgUnit]) -> list[tuple[Any, Any]]:
    """Townships and streets as option groups (the township itself first), then their villages.

    ``units`` are the active territorial units in tree order.
    """
    choices: list[tuple[Any, Any]] = []
    groups: dict[int, list[tuple[str, str]]] = {}
    for unit in units:
        if unit.depth == 0:
            choices.append((str(unit.pk), unit.name))
        elif unit.depth == 1:
            group: list[tuple[str, str]] = [(str(unit.pk), unit.name)]
            groups[unit.pk] = group
            choices.append((unit.name, group))
        else:
            top = unit.ancestors_and_self_ids()[1]
            if top in groups:
                groups[top].append((str(unit.pk), "\u3000" * (unit.depth - 1) + unit.name))
    return choices


# ---------------------------------------------------------------- queue


class QueueFilterForm(forms.Form):
    """The queue's GET filters: the same as ``selectors.QueueFilter`` and the API's."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    unit = forms.TypedChoiceField(
        label=_("Lead unit"), required=False, coerce=int, empty_value=None
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    type = forms.ChoiceField(label=_("Type"), required=False)
    category = forms.TypedChoiceField(
        label=_("Category"), required=False, coerce=int, empty_value=None
    )
    received_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        label=_("Received to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        label=_("Text or tracking code"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def __init__(
        self,
        *args: Any,
        units: Sequence[OrgUnit] = (),
        categories: Sequence[Category] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        any_ = _("Any")
        self.fields["status"].choices = _blank(any_) + list(Status.choices)
        self.fields["channel"].choices = _blank(any_) + list(Channel.choices)
        self.fields["type"].choices = _blank(any_) + list(AppealType.choices)
        self.fields["unit"].choices = _blank(any_) + unit_choices(units, min_depth=1)
        self.fields["category"].choices = _blank(any_) + flat_category_choices(categories)


class IdListField(forms.TypedMultipleChoiceField):
    """Any integer ids: which of them the user may see is the view's business."""

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit()


class BulkDispatchForm(forms.Form):
    ids = IdListField(coerce=int, required=True)
    unit = forms.TypedChoiceField(
        label=_("Dispatch the selected appeals to"),
        required=False,
        coerce=int,
        empty_value=None,
    )

    def __init__(self, *args: Any, units: Sequence[OrgUnit] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = _blank(_("The catalogue's suggestion")) + unit_choices(
            units, min_depth=1
        )

    def clean_ids(self) -> list[int]:
        return list(dict.fromkeys(self.cleaned_data["ids"]))[:200]


# ---------------------------------------------------------------- detail: one form per action


class ActionForm(forms.Form):
    """Base of the action forms; ``units`` feeds the unit select where there is one."""

    def __init__(self, *args: Any, units: Sequence[OrgUnit] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "unit" in self.fields:
            self._set_units(units)

    def _set_units(self, units: Sequence[OrgUnit]) -> None:
        min_depth = min((u.depth for u in units), default=0)
        self.fields["unit"].choices = self.unit_blank() + unit_choices(units, min_depth=min_depth)

    def unit_blank(self) -> list[tuple[str, Any]]:
        return _blank(_("Choose a unit"))


class EmptyForm(ActionForm):
    pass


class NoteForm(ActionForm):
    note = _optional_text(_("Note (optional)"))


class ReasonForm(ActionForm):
    reason = _required_text(_("Reason"), max_length=2000)


class ReplyForm(ActionForm):
    reply = _required_text(_("Reply to the citizen"), rows=5)


class DispatchForm(ActionForm):
    unit = forms.TypedChoiceField(
        label=_("Lead unit"), required=False, coerce=int, empty_value=None
    )
    note = _optional_text(_("Note (optional)"))

    def unit_blank(self) -> list[tuple[str, Any]]:
        return _blank(_("The catalogue's suggestion"))


class RedispatchForm(ActionForm):
    unit = forms.TypedChoiceField(label=_("New lead unit"), coerce=int)
    reason = _required_text(_("Reason"), max_length=2000)


class TransferForm(ActionForm):
    unit = forms.TypedChoiceField(label=_("Pass down to"), coerce=int)
    note = _optional_text(_("Note (optional)"))


class ExtensionForm(ActionForm):
    amount = forms.IntegerField(label=_("Extra time"), min_value=1, max_value=90)
    time_unit = forms.ChoiceField(
        label=_("Counted in"), choices=TimeUnit.choices, initial=TimeUnit.WORKING_DAYS
    )
    reason = _required_text(_("Reason"), max_length=2000)


SOLVED_CHOICES = [("", _("Not asked")), ("yes", _("Yes")), ("no", _("No"))]


class RateForm(ActionForm):
    rating = forms.ChoiceField(
        label=_("The citizen's rating"), choices=Rating.choices, widget=forms.RadioSelect
    )
    solved = forms.ChoiceField(
        label=_("Problem solved?"),
        choices=SOLVED_CHOICES,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MergeForm(ActionForm):
    into = forms.CharField(
        label=_("Merge into (tracking code or number)"),
        max_length=20,
        help_text=_("The open appeal about the same matter."),
    )
    reason = _optional_text(_("Note (optional)"))


class SupplementForm(ActionForm):
    text = _required_text(_("Additional information"))


ACTION_FORMS: dict[str, type[ActionForm]] = {
    Action.ACCEPT: EmptyForm,
    Action.RETURN: ReasonForm,
    Action.TRANSFER: TransferForm,
    Action.REQUEST_EXTENSION: ExtensionForm,
    Action.SUSPEND: ReasonForm,
    Action.RESUME: NoteForm,
    Action.REPLY: ReplyForm,
    Action.DISPATCH: DispatchForm,
    Action.REDISPATCH: RedispatchForm,
    Action.APPROVE_RETURN: NoteForm,
    Action.REJECT_RETURN: ReasonForm,
    Action.APPROVE_EXTENSION: NoteForm,
    Action.REFUSE_EXTENSION: ReasonForm,
    Action.APPROVE_REPLY: NoteForm,
    Action.REWORK: ReasonForm,
    Action.RATE: RateForm,
    Action.DIRECT_CLOSE: ReplyForm,
    Action.INVALIDATE: ReasonForm,
    Action.MERGE: MergeForm,
    Action.SUPPLEMENT: SupplementForm,
}


class RevealForm(forms.Form):
    purpose = forms.CharField(label=_("Purpose (optional)"), required=False, max_length=200)


# ---------------------------------------------------------------- hotline intake


class PhoneLookupForm(forms.Form):
    phone = forms.CharField(
        label=_("Caller's phone"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "autofocus": True}),
    )


class IntakeForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    name = forms.CharField(label=_("Name"), required=False, max_length=50)
    anonymous = forms.BooleanField(label=_("Anonymous (no name; phone optional)"), required=False)
    channel = forms.ChoiceField(label=_("Channel"))
    appeal_type = forms.ChoiceField(label=_("Type"), choices=AppealType.choices)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    category = forms.TypedChoiceField(
        label=_("Category"), required=False, coerce=int, empty_value=None
    )
    territory = forms.TypedChoiceField(
        label=_("Place"), required=False, coerce=int, empty_value=None
    )
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    content = ServiceRequiredField(
        label=_("What the caller says"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    reply = forms.CharField(
        label=_("Answer given on the call"),
        required=False,
        max_length=5000,
        help_text=_('Only for "Register and close directly".'),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(
        self,
        *args: Any,
        channels: Sequence[tuple[str, Any]] = (),
        categories: Sequence[Category] = (),
        places: Sequence[OrgUnit] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = list(channels)
        self.fields["category"].choices = _blank(_("Choose a category")) + category_choices(
            list(categories)
        )
        self.fields["territory"].choices = _blank(_("Choose a place")) + place_choices(list(places))
