from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    name = "minsheng.core"
    label = "core"
    verbose_name = "核心"

    def ready(self) -> None:
        from minsheng.core import (
            calendar,
            checks,  # noqa: F401 - registers the duties and audit checks
        )

        calendar.connect_signals()


class MinshengAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site: access by separated duty, login through the console.

    Named in ``INSTALLED_APPS`` in place of ``django.contrib.admin`` (settings.py)."""

    default = False  # CoreConfig stays this module's default

    default_site = "minsheng.core.admin_audit.DutyAdminSite"
