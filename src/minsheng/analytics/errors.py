"""Error codes of statistics pages, exports and reports."""

from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import ErrorCode


class AnalyticsError(ErrorCode):
    BAD_PERIOD = (
        "bad_period",
        _(
            "The period is not valid: give dates as YYYY-MM-DD, the start on or before the end, "
            "at most five years."
        ),
        422,
    )
    UNKNOWN_UNIT = ("stats_unit_not_found", _("No such unit in your scope."), 404)
    UNKNOWN_CATEGORY = ("stats_category_not_found", _("No such category."), 404)
    BAD_PARAMETER = ("bad_parameter", _("A parameter of this page is not valid."), 422)
    NO_ACCESS = ("no_statistics_access", _("Your role does not include statistics."), 403)
