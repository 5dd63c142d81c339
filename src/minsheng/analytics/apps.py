from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# How often a worker looks for queued background exports: a safety net, since creating one
# enqueues a run at once.
EXPORT_POLL_SECONDS = 60


class AnalyticsConfig(AppConfig):
    """Statistics: KPI definitions, daily rollups, performance, dashboards, exports, reports."""

    name = "minsheng.analytics"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        from django.conf import settings

        from minsheng.core import periodic

        from .tasks import expire_exports_task, refresh_rollups_task, run_export_jobs_task

        # Dashboards read the rollups: bring them up to date every MINSHENG_ROLLUP_SECONDS.
        periodic.register(
            "refresh_rollups", refresh_rollups_task, lambda: settings.MINSHENG_ROLLUP_SECONDS
        )
        # Large queue exports: written by one worker at a time, deleted after KEEP_DAYS.
        periodic.register("export_jobs", run_export_jobs_task, lambda: EXPORT_POLL_SECONDS)
        periodic.register(
            "export_housekeeping",
            expire_exports_task,
            lambda: settings.MINSHENG_HOUSEKEEPING_SECONDS,
        )
