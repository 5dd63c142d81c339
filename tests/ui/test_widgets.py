"""ListSelect writes the same select Django's own widget writes, only faster."""

from __future__ import annotations

import pytest
from django import forms
from django.test.html import parse_html

from minsheng.ui.widgets import ListSelect

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
