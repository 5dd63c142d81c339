from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Statistics: KPI definitions, daily rollups, performance, dashboards, exports, reports."""

    name = "minsheng.analytics"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        from django.conf import settings

        from minsheng.core import periodic

        from .tasks import refresh_rollups_task

        # Dashboards read the rollups: bring them up to date every MINSHENG_ROLLUP_SECONDS.
        periodic.register(
            "refresh_rollups", refresh_rollups_task, lambda: settings.MINSHENG_ROLLUP_SECONDS
        )
