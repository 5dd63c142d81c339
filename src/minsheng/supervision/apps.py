from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "minsheng.supervision"
    label = "supervision"
    verbose_name = "督办"
