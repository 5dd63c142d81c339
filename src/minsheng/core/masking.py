"""Masking of personal data for display (DESIGN.md invariant 4)."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """``13812341234`` → ``138****1234``; short numbers keep only their ends."""
    if not phone:
        return ""
    if len(phone) >= 11:
        return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
    if len(phone) > 4:
        return f"{phone[:2]}{'*' * (len(phone) - 4)}{phone[-2:]}"
    return "*" * len(phone)


def mask_name(name: str) -> str:
    """``王小明`` → ``王**``: enough for a greeting, not to identify."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"
