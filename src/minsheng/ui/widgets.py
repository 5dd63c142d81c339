"""Form widgets shared by the console's pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join


class ListSelect(forms.Select):
    """A single select over a flat list of choices, written in one pass.

    Django renders each option through its own template; the statistics filter lists every
    unit, place and category (~250 options), which cost 20–70 ms of every dashboard page
    (bench/dashboard.py). The HTML is the same plain ``<select>`` (the pickers enhance it).
    Option groups are not supported: use ``forms.Select`` for those.
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> str:
        chosen = {str(v) for v in self.format_value(value)}
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, " selected" if str(key) in chosen else "", label)
                for key, label in self.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(final), options)
