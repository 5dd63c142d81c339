from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "minsheng.notify"
    label = "notify"
    verbose_name = "通知"
