"""Error codes of supervision; each is stable and has a translated message."""

from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import ErrorCode


class SupervisionError(ErrorCode):
    ORDER_NOT_FOUND = ("supervision_order_not_found", _("No such supervision order."), 404)
    ALREADY_ANSWERED = (
        "supervision_order_answered",
        _("This supervision order has already been answered."),
        409,
    )
