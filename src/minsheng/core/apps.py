from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "minsheng.core"
    label = "core"
    verbose_name = "核心"

    def ready(self) -> None:
        from minsheng.core import calendar

        calendar.connect_signals()
