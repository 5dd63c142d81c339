from django.contrib import admin
from django.urls import include, path

from minsheng.api import api
from minsheng.core import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # Prometheus; core/metrics.py
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("ui/", include("minsheng.ui.urls")),
    path("console/stats/", include("minsheng.analytics.urls_console")),
    path("console/", include("minsheng.appeals.urls_console")),
    path("stats/", include("minsheng.analytics.urls_portal")),
    path("", include("minsheng.appeals.urls_portal")),
]

handler404 = "minsheng.core.error_views.not_found"
handler500 = "minsheng.core.error_views.server_error"
