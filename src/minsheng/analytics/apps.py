from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Statistics: KPI definitions, daily rollups, performance, dashboards, exports, reports."""

    name = "minsheng.analytics"
    verbose_name = _("Statistics")
