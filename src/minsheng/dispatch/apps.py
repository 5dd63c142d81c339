from django.apps import AppConfig


class DispatchConfig(AppConfig):
    """智能派单: category suggestions from a text classifier, and optional auto-dispatch."""

    name = "minsheng.dispatch"
    label = "dispatch"
    verbose_name = "智能派单"

    def ready(self) -> None:
        from minsheng.appeals import hooks

        from .services import queue_auto_dispatch

        # Only queues a task after commit when auto-dispatch is on (services.queue_auto_dispatch);
        # the decision itself runs in the worker, never on the submission's request.
        hooks.on_submitted(queue_auto_dispatch)
