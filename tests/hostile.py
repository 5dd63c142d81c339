"""A corpus of hostile strings for every text field a citizen or staff member can fill.

Each is something a real attacker (or a real phone keyboard) sends. The rule they test: a text
is either refused with a clear 4xx and changes nothing, or stored exactly as sent (after the
forms' usual trimming) and shown escaped, literally, without widening a phone's page.

Refused everywhere: NUL (U+0000; PostgreSQL cannot store it in text, so both databases refuse
it alike), lone surrogates (not encodable as UTF-8) and text over a field's maximum length.
Everything else, control characters included, is kept: a caller's words are evidence, and the
pages escape what they show.
"""

from __future__ import annotations

# Stored exactly and shown literally. Keys name the attack, for readable test ids.
STORED: dict[str, str] = {
    "sql_drop": "'; DROP TABLE appeals_appeal; --",
    "sql_tautology": "1' OR '1'='1' /* \" OR \"\"=\" */ UNION SELECT password FROM org_user --",
    "django_template": "{{ 7*7 }} {% debug %} {% load static %} {{ request.user.password }}",
    "jinja_ssti": "{{ ''.__class__.__mro__[1].__subclasses__() }} ${7*7} #{7*7} <%= 7*7 %>",
    "script_tag": "<script>alert('xss')</script>",
    "img_onerror": '<img src=x onerror="alert(1)">',
    "svg_onload": "'\"><svg/onload=alert(2)>",
    "attribute_breakout": '" autofocus onfocus="alert(3)" x="',
    "javascript_url": "javascript:alert(document.cookie)",
    "data_url": "data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==",
    "html_entities": "&lt;b&gt;bold&lt;/b&gt; &amp;amp; &#x3C;script&#x3E; &nbsp;&copy;",
    "markdown_link": "[click](javascript:alert(5)) ![x](http://evil.example/x.png)",
    "rtl_override": "invoice\u202egpj.exe \u2067isolate\u2069 \u200fRLM",
    "zero_width": "zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffBOM",
    "emoji_zwj": "👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 🧑🏽\u200d🚒 👍🏿",
    "astral_cjk": "𠮷野家 𡈽 𪚥 — 4-byte characters outside the BMP",
    "control_chars": "bell\x07 backspace\x08 escape\x1b[31mred\x1b[0m del\x7f c1\x85\x9b",
    "newlines": "line one\nline two\n\n\ttabbed line",
    "huge_number": "9" * 400,
    "format_string": "%s%s%s%n %(password)s {0.__class__} %x",
    "path_traversal": "../../../../etc/passwd ..\\..\\windows\\win.ini",
    "header_injection": "x\r\nSet-Cookie: admin=1",
    "combining": "Z\u0351\u0363\u0364a\u0306\u0347l\u0325\u0355g\u030co\u0307",
    "homoglyph": "аdmin раураl ＜script＞",  # Cyrillic a/p, full-width brackets
}

# Refused with a 4xx wherever it is sent (no database row, no event).
NUL = "before\x00after"
LONE_SURROGATE_JSON = '"before\\ud800after"'  # as JSON text: Python cannot encode it as UTF-8

# Long lines without a space: the widest a field accepts (shown without widening the page),
# and twice the content limit (refused as too long).
LONG_LINE_10K = "W" * 10_000


def long_line(length: int) -> str:
    """A line of ``length`` characters with no space or break opportunity, URL-like."""
    head = "https://example.org/"
    return (head + "A" * length)[:length]


def as_form_field(text: str) -> str:
    """What a Django form keeps of ``text``: ``CharField`` strips surrounding whitespace."""
    return text.strip()


def as_browser_text(text: str) -> str:
    """What the DOM holds of stored ``text``: HTML parsing turns CR LF and lone CR into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
