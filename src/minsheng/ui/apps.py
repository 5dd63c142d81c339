from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "minsheng.ui"
    label = "ui"
    verbose_name = "界面"
