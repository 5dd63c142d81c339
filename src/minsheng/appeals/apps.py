from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "minsheng.appeals"
    label = "appeals"
    verbose_name = "诉求"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from minsheng.org.models import OrgUnit

        from .models import Category
        from .reference import forget_lookups

        for model in (Category, OrgUnit):
            post_save.connect(forget_lookups, sender=model, dispatch_uid=f"forget-{model}")
            post_delete.connect(forget_lookups, sender=model, dispatch_uid=f"forget-d-{model}")

        from django.conf import settings

        from minsheng.core import periodic

        from .tasks import housekeeping

        # Stale uploads and old login codes, every MINSHENG_HOUSEKEEPING_SECONDS (0: never).
        periodic.register(
            "appeals_housekeeping", housekeeping, lambda: settings.MINSHENG_HOUSEKEEPING_SECONDS
        )
