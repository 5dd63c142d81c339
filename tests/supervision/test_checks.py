"""A supervision setting out of range stops start-up with a clear message."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


@pytest.mark.parametrize("share", [0, 1.5, -0.2])
def test_a_warning_share_outside_0_and_1_is_refused(settings, share):
    settings.MINSHENG_WARNING_SHARE = share
    with pytest.raises(SystemCheckError, match="MINSHENG_WARNING_SHARE"):
        call_command("check")


def test_response_days_below_one_are_refused(settings):
    settings.MINSHENG_SUPERVISION_RESPONSE_DAYS = 0
    with pytest.raises(SystemCheckError, match="MINSHENG_SUPERVISION_RESPONSE_DAYS"):
        call_command("check")


def test_the_defaults_pass(settings):
    from minsheng.supervision.checks import check_settings

    settings.MINSHENG_WARNING_SHARE = 0.75
    settings.MINSHENG_SUPERVISION_RESPONSE_DAYS = 1
    assert check_settings() == []
