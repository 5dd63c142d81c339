from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "minsheng.core"
    label = "core"
    verbose_name = "核心"
