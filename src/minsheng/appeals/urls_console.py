"""Staff console: ``/console/``."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from minsheng.core import views as core_views
from minsheng.dispatch import views as dispatch_views
from minsheng.notify import views as notify_views
from minsheng.org import views as org_views
from minsheng.supervision import views as supervision_views

from .views import console

app_name = "console"
urlpatterns = [
    # Staff login security (minsheng.org.security): lockout-aware login, 2FA, password change.
    path("login/", org_views.StaffLoginView.as_view(), name="login"),
    path("", include("minsheng.org.urls_console")),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", console.home, name="home"),
    path("appeals/", console.queue, name="queue"),
    path("appeals/bulk-dispatch/", console.bulk_dispatch, name="bulk_dispatch"),
    path("appeals/<int:appeal_id>/", console.detail, name="detail"),
    path("appeals/<int:appeal_id>/reveal/", console.reveal, name="reveal"),
    path("appeals/<int:appeal_id>/action/<str:name>/", console.act, name="act"),
    path("intake/", console.intake, name="intake"),
    path("intake/caller/", console.intake_caller, name="intake_caller"),
    path("intake/suggest/", console.intake_suggest, name="intake_suggest"),
    # 智能派单 (minsheng.dispatch): the categories the model suggests for the typed text.
    path("intake/categories/", dispatch_views.intake_suggestions, name="dispatch_suggest"),
    path("intake/duplicates/", dispatch_views.intake_duplicates, name="dispatch_duplicates"),
    path("hotspots/", dispatch_views.hotspots_page, name="hotspots"),
    path("hotspots/export.xlsx", dispatch_views.hotspots_export, name="hotspots_export"),
    # 催办 / 督办 (minsheng.supervision) and the bell (minsheng.notify).
    path("appeals/<int:appeal_id>/remind/", supervision_views.remind, name="remind"),
    path("appeals/<int:appeal_id>/supervise/", supervision_views.supervise, name="supervise"),
    path("supervision/", supervision_views.orders, name="supervision_orders"),
    path(
        "supervision/<int:order_id>/respond/",
        supervision_views.respond,
        name="supervision_respond",
    ),
    # 审计日志 (minsheng.core): the auditors' read-only page of the audit log.
    path("audit/", core_views.audit_log, name="audit_log"),
    path("notifications/", notify_views.notification_list, name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        notify_views.mark_read,
        name="notification_read",
    ),
    path("notifications/read-all/", notify_views.mark_all_read, name="notifications_read_all"),
]
