"""Form widgets shared by the console's pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join


def html_attrs(attrs: dict[str, Any]) -> str:
    """Attributes in their given order, as Django's ``attrs.html`` writes them (``flatatt``
    sorts them): ``True`` is a bare name, ``False`` and ``None`` are left out."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", key) if value is True else format_html(' {}="{}"', key, value),)
            for key, value in attrs.items()
            if value is not False and value is not None
        ),
    )


class ListSelect(forms.Select):
    """A select written in one pass of Python, option groups and per-option attributes included.

    Django renders each option through its own template; the statistics filter lists every
    unit, place and category (~250 options), which cost 20–70 ms of every dashboard page
    (bench/dashboard.py), and the queue's filter and bulk-dispatch forms three such lists (60 of
    a dispatcher's 85 ms per queue page, bench/pages.py). The HTML is the same plain
    ``<select>`` (the pickers enhance it). ``option_attrs`` maps an option's value to extra
    attributes (the pickers' ``data-*``).
    """

    option_attrs: dict[str, dict[str, str]] = {}

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> str:
        chosen = {str(v) for v in self.format_value(value)}
        final = {"name": name, **self.build_attrs(self.attrs, attrs)}  # name first, as Django
        if self.allow_multiple_selected:
            final["multiple"] = True
        extra = self.option_attrs

        def options(choices: Any) -> str:
            return format_html_join(
                "",
                '<option value="{}"{}{}>{}</option>',
                (
                    (
                        key,
                        " selected" if str(key) in chosen else "",
                        html_attrs(extra[str(key)]) if extra and str(key) in extra else "",
                        label,
                    )
                    for key, label in choices
                ),
            )

        parts = [
            format_html('<optgroup label="{}">{}</optgroup>', key, options(label))
            if isinstance(label, list | tuple)
            else options([(key, label)])
            for key, label in self.choices
        ]
        body = format_html_join("", "{}", ((part,) for part in parts))  # each part is escaped
        return format_html("<select{}>{}</select>", html_attrs(final), body)


class ListSelectMultiple(ListSelect, forms.SelectMultiple):
    """The multiple-choice twin of ``ListSelect`` (``multiple``, values read as a list)."""

    allow_multiple_selected = True
