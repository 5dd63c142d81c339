"""Read-only admin views of notifications and deliveries, for operators chasing a message."""

from __future__ import annotations

from django.contrib import admin

from .models import Delivery, Notification


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Notification)
class NotificationAdmin(_ReadOnly):
    list_display = ["created_at", "recipient", "kind", "title", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["recipient", "appeal"]


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    list_display = ["notification", "channel", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["notification"]
