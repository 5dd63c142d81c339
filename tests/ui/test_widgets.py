"""ListSelect writes the same select Django's own widget writes, only faster."""

from __future__ import annotations

import pytest
from django import forms
from django.http import QueryDict
from django.test.html import parse_html

from minsheng.ui.widgets import ListSelect, ListSelectMultiple

CHOICES = [("", "全部"), ("1", "和兴镇"), ("2", "\u3000和兴村"), ("3", 'A & B <"x">')]


@pytest.mark.parametrize("value", [None, "", "2", "3", "9"])
def test_the_same_html_as_djangos_select(value):
    class Mine(forms.Form):
        unit = forms.ChoiceField(choices=CHOICES, required=False, widget=ListSelect)

    class Theirs(forms.Form):
        unit = forms.ChoiceField(choices=CHOICES, required=False)

    data = None if value is None else {"unit": value}
    mine, theirs = str(Mine(data)["unit"]), str(Theirs(data)["unit"])

    assert parse_html(mine) == parse_html(theirs)
    assert "&lt;&quot;x&quot;&gt;" in mine  # labels escaped


GROUPED = [("", "全部"), ("和兴镇", [("1", "和兴镇"), ("2", 'A & B <"x">')]), ("9", "城区")]


@pytest.mark.parametrize("value", [None, "", "2", "9"])
def test_option_groups_the_same_as_djangos_select(value):
    class Mine(forms.Form):
        unit = forms.ChoiceField(choices=GROUPED, required=False, widget=ListSelect)

    class Theirs(forms.Form):
        unit = forms.ChoiceField(choices=GROUPED, required=False)

    data = None if value is None else {"unit": value}
    mine, theirs = str(Mine(data)["unit"]), str(Theirs(data)["unit"])

    assert parse_html(mine) == parse_html(theirs)
    assert '<optgroup label="和兴镇">' in mine and "&lt;&quot;x&quot;&gt;" in mine


@pytest.mark.parametrize("value", [None, [], ["1"], ["1", "9"]])
def test_multiple_the_same_as_djangos_select_multiple(value):
    class Mine(forms.Form):
        units = forms.MultipleChoiceField(
            choices=GROUPED[1:], required=False, widget=ListSelectMultiple(attrs={"size": 6})
        )

    class Theirs(forms.Form):
        units = forms.MultipleChoiceField(
            choices=GROUPED[1:], required=False, widget=forms.SelectMultiple(attrs={"size": 6})
        )

    data = None if value is None else QueryDict(mutable=True)
    if data is not None:
        data.setlist("units", value)
    mine, theirs = str(Mine(data)["units"]), str(Theirs(data)["units"])

    assert parse_html(mine) == parse_html(theirs)
    assert Mine(data).is_valid() == Theirs(data).is_valid()


def test_per_option_attributes_are_escaped_and_follow_selected():
    widget = ListSelect(choices=[("1", "和兴镇"), ("2", "和兴村")])
    widget.option_attrs = {"2": {"data-hint": '"><script>', "data-code": "HX"}}
    html = widget.render("unit", "2")
    assert '<option value="2" selected data-hint="&quot;&gt;&lt;script&gt;" data-code="HX">' in html
    assert '<option value="1">和兴镇</option>' in html
