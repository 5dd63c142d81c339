from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "minsheng.supervision"
    label = "supervision"
    verbose_name = "督办"

    def ready(self) -> None:
        from django.conf import settings

        from minsheng.core import periodic

        from . import checks  # noqa: F401 - registers the settings checks
        from .tasks import sweep_deadlines

        # The deadline sweep every MINSHENG_SWEEP_SECONDS on some worker (0: never).
        periodic.register(
            "sweep_deadlines", sweep_deadlines, lambda: settings.MINSHENG_SWEEP_SECONDS
        )
