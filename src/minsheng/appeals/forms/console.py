"""Forms of the staff console: they parse input only; the services decide what is allowed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from minsheng.org.models import OrgUnit
from minsheng.ui.widgets import ListSelect, ListSelectMultiple

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
    Action.SUPPLEMENT: _("Add information or attachments"),
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


MAX_CO_UNITS = 5


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


# ---------------------------------------------------------------- type-to-search pickers


def _picker_attrs(attrs: dict[str, Any] | None) -> dict[str, Any]:
    # The script's few words, translated here: it has no catalogue of its own.
    return {
        "data-picker": "",
        "data-empty": _("No match"),
        "data-remove": _("Remove {name}"),
        **(attrs or {}),
    }


class PickerSelect(ListSelect):
    """A select that ``ui/picker.js`` turns into type-to-search.

    ``option_attrs`` maps an option's value to the attributes typed text is matched against:
    ``data-initials`` (pinyin initials, "hxz" for 和兴镇), ``data-code`` and ``data-hint`` (the
    parent's name, shown next to a village). Without JavaScript it is an ordinary ``<select>``.
    """

    def __init__(self, attrs: dict[str, Any] | None = None, choices: Any = ()) -> None:
        super().__init__(_picker_attrs(attrs), choices)
        self.option_attrs = {}


class PickerSelectMultiple(ListSelectMultiple):
    def __init__(self, attrs: dict[str, Any] | None = None, choices: Any = ()) -> None:
        super().__init__(_picker_attrs(attrs), choices)
        self.option_attrs = {}


def unit_option_attrs(units: Sequence[OrgUnit]) -> dict[str, dict[str, str]]:
    """Initials, code and (below a township or street) the parent's name of each unit."""
    parents = {u.pk: u.name for u in units if u.depth >= 1}
    return {
        str(u.pk): {
            key: value
            for key, value in (
                ("data-initials", u.initials),
                ("data-code", u.code),
                ("data-hint", parents.get(u.parent_id or 0, "")),
            )
            if value
        }
        for u in units
    }


def category_option_attrs(categories: Sequence[Category]) -> dict[str, dict[str, str]]:
    return {str(c.pk): {"data-code": c.code} for c in categories}


def _picker(field: forms.Field, option_attrs: dict[str, dict[str, str]]) -> None:
    widget = field.widget
    if isinstance(widget, PickerSelect | PickerSelectMultiple):
        widget.option_attrs = option_attrs


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


def _co_units_field() -> forms.TypedMultipleChoiceField:
    return forms.TypedMultipleChoiceField(
        label=_("Co-units (optional)"),
        required=False,
        coerce=int,
        widget=PickerSelectMultiple(attrs={"size": 6}),
    )


class CoUnitsMixin(forms.Form):
    """协办单位: optional, staff-assignable (they come from the same list as the lead unit),
    not the lead unit itself, at most ``MAX_CO_UNITS``. ``cleaned_data["co_units"]`` holds the
    ``OrgUnit`` rows, in the order chosen."""

    _units_by_id: dict[int, OrgUnit]

    def _set_co_units(self, units: Sequence[OrgUnit]) -> None:
        self._units_by_id = {u.pk: u for u in units}
        field = self.fields["co_units"]
        field.choices = self.fields["unit"].choices[1:]
        field.help_text = _(
            "Units that contribute; the lead unit answers for the appeal. At most %(max)s."
        ) % {"max": MAX_CO_UNITS}
        _picker(self.fields["co_units"], unit_option_attrs(units))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        ids = list(dict.fromkeys(data.get("co_units") or []))
        if len(ids) > MAX_CO_UNITS:
            self.add_error(
                "co_units",
                _("Choose at most %(max)s co-units.") % {"max": MAX_CO_UNITS},
            )
        elif data.get("unit") is not None and data["unit"] in ids:
            self.add_error("co_units", _("The lead unit cannot also be a co-unit."))
        else:
            data["co_units"] = [self._units_by_id[pk] for pk in ids]
        return data


# ---------------------------------------------------------------- queue


# The queue's orders (selectors.SORTS), as the queue's caption and sort picker say them.
QUEUE_SORTS = [
    ("newest", _("Newest first")),
    ("oldest", _("Oldest first")),
    ("due", _("Deadline soonest first")),
]


class QueueFilterForm(forms.Form):
    """The queue's GET filters: the same as ``selectors.QueueFilter`` and the API's."""

    status = forms.ChoiceField(label=_("Status"), required=False, widget=ListSelect)
    unit = forms.TypedChoiceField(
        label=_("Lead unit"), required=False, coerce=int, empty_value=None, widget=ListSelect
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False, widget=ListSelect)
    type = forms.ChoiceField(label=_("Type"), required=False, widget=ListSelect)
    category = forms.TypedChoiceField(
        label=_("Category"), required=False, coerce=int, empty_value=None, widget=ListSelect
    )
    place = forms.TypedChoiceField(
        label=_("Place"), required=False, coerce=int, empty_value=None, widget=ListSelect
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
    sort = forms.ChoiceField(
        label=_("Sort"), required=False, choices=QUEUE_SORTS, widget=ListSelect
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
        places = [u for u in units if u.is_territorial]
        self.fields["place"].choices = _blank(any_) + unit_choices(places, min_depth=1)


class IdListField(forms.TypedMultipleChoiceField):
    """Any integer ids: which of them the user may see is the view's business."""

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit()


class BulkDispatchForm(CoUnitsMixin, forms.Form):
    ids = IdListField(coerce=int, required=True)
    unit = forms.TypedChoiceField(
        label=_("Dispatch the selected appeals to"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=PickerSelect,
    )
    co_units = _co_units_field()

    def __init__(self, *args: Any, units: Sequence[OrgUnit] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = _blank(_("The catalogue's suggestion")) + unit_choices(
            units, min_depth=1
        )
        _picker(self.fields["unit"], unit_option_attrs(units))
        self._set_co_units([u for u in units if u.depth >= 1])

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
        _picker(self.fields["unit"], unit_option_attrs(units))

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


class DispatchForm(CoUnitsMixin, ActionForm):
    unit = forms.TypedChoiceField(
        label=_("Lead unit"), required=False, coerce=int, empty_value=None, widget=PickerSelect
    )
    co_units = _co_units_field()
    note = _optional_text(_("Note (optional)"))

    def _set_units(self, units: Sequence[OrgUnit]) -> None:
        super()._set_units(units)
        self._set_co_units(units)

    def unit_blank(self) -> list[tuple[str, Any]]:
        return _blank(_("The catalogue's suggestion"))


class RedispatchForm(CoUnitsMixin, ActionForm):
    unit = forms.TypedChoiceField(label=_("New lead unit"), coerce=int, widget=PickerSelect)
    co_units = _co_units_field()
    reason = _required_text(_("Reason"), max_length=2000)

    def _set_units(self, units: Sequence[OrgUnit]) -> None:
        super()._set_units(units)
        self._set_co_units(units)


class TransferForm(ActionForm):
    unit = forms.TypedChoiceField(label=_("Pass down to"), coerce=int, widget=PickerSelect)
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
    """补充: text, attachments or both (the service refuses neither); files come separately."""

    text = forms.CharField(
        label=_("Additional information"),
        required=False,
        max_length=5000,
        help_text=_("Text, attachments or both."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


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
        label=_("Category"), required=False, coerce=int, empty_value=None, widget=PickerSelect
    )
    territory = forms.TypedChoiceField(
        label=_("Place"), required=False, coerce=int, empty_value=None, widget=PickerSelect
    )
    # Only for staff who may dispatch ("Register and dispatch"); removed for everyone else.
    unit = forms.TypedChoiceField(
        label=_("Dispatch to (lead unit)"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Filled in with the dispatch catalogue's suggestion; empty means the same."),
        widget=PickerSelect,
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
        units: Sequence[OrgUnit] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = list(channels)
        self.fields["category"].choices = _blank(_("Choose a category")) + category_choices(
            list(categories)
        )
        _picker(self.fields["category"], category_option_attrs(categories))
        self.fields["territory"].choices = _blank(_("Choose a place")) + place_choices(list(places))
        _picker(self.fields["territory"], unit_option_attrs(places))
        if units is None:
            del self.fields["unit"]
        else:
            self.fields["unit"].choices = _blank(_("The catalogue's suggestion")) + unit_choices(
                units, min_depth=1
            )
            _picker(self.fields["unit"], unit_option_attrs(units))
