"""Error codes of the appeal lifecycle; each is stable and has a translated message."""

from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import ErrorCode


class AppealError(ErrorCode):
    ILLEGAL_TRANSITION = (
        "illegal_transition",
        _("This action is not possible in the appeal's current state."),
        409,
    )
    CONCURRENT_CHANGE = (
        "concurrent_change",
        _("Someone else changed this appeal at the same time; reload."),
        409,
    )
    NOT_PERMITTED = ("not_permitted", _("Your role may not take this action on this appeal."), 403)
    NOT_FOUND = ("appeal_not_found", _("No such appeal."), 404)
    TRACKING_NOT_FOUND = (
        "tracking_not_found",
        _("No appeal matches this tracking code and phone number."),
        404,
    )
    REASON_REQUIRED = ("reason_required", _("A reason is required for this action."), 422)
    UNKNOWN_UNIT = ("unknown_unit", _("No such unit."), 422)
    UNIT_NOT_HANDLING = (
        "unit_cannot_handle",
        _("This unit cannot handle appeals (choose an active unit)."),
        422,
    )
    TRANSFER_OUT_OF_SUBTREE = (
        "transfer_out_of_subtree",
        _("An appeal can only be passed down to a subordinate unit."),
        422,
    )
    UNKNOWN_CATEGORY = ("unknown_category", _("No such category."), 422)
    UNKNOWN_TERRITORY = ("unknown_territory", _("No such place."), 422)
    NO_CATALOGUE_ENTRY = (
        "no_catalogue_entry",
        _("The dispatch catalogue names no unit; choose one."),
        422,
    )
    NO_TIME_LIMIT = ("no_time_limit", _("No time limit is configured for this appeal."), 422)
    CONTACT_REQUIRED = (
        "contact_required",
        _("A phone number is required unless the appeal is anonymous."),
        422,
    )
    INVALID_PHONE = ("invalid_phone", _("This is not a valid phone number."), 422)
    EXTENSION_PENDING = ("extension_pending", _("An extension request is already pending."), 409)
    NO_PENDING_EXTENSION = (
        "no_pending_extension",
        _("There is no pending extension request."),
        409,
    )
    ALREADY_RATED = ("already_rated", _("This reply has already been rated."), 409)
    MERGE_INTO_SELF = ("merge_into_self", _("An appeal cannot be merged into itself."), 422)
    MERGE_TARGET_CLOSED = (
        "merge_target_not_open",
        _("Appeals can only be merged into an open appeal."),
        422,
    )
    ATTACHMENT_TYPE = ("attachment_type", _("Only JPEG, PNG and PDF files are accepted."), 415)
    ATTACHMENT_TOO_LARGE = ("attachment_too_large", _("The file is too large."), 413)
    ATTACHMENT_CORRUPT = ("attachment_corrupt", _("The file is damaged and cannot be read."), 422)
    TOO_MANY_ATTACHMENTS = ("too_many_attachments", _("Too many attachments for one appeal."), 422)
    # The attachments' disk is full: nothing was stored; the citizen may try again later.
    STORAGE_FULL = (
        "storage_full",
        _("The file cannot be stored right now (no space left). Please try again later."),
        507,
    )
    UNKNOWN_UPLOAD = ("unknown_upload", _("No such uploaded file (or it is already used)."), 422)
    # One-time login codes of "My appeals" (citizen_login.py).
    NOT_A_MOBILE = (
        "not_a_mobile",
        _("Text messages can only go to a mobile number (11 digits, starting with 1)."),
        422,
    )
    LOGIN_CODE_WRONG = (
        "login_code_wrong",
        _("This code is not right. Check the text message and type it again."),
        422,
    )
    LOGIN_CODE_EXPIRED = (
        "login_code_expired",
        _("This code is no longer valid. Ask for a new one."),
        422,
    )
    LOGIN_CODE_USED = (
        "login_code_used",
        _("This code has already been used. Ask for a new one."),
        422,
    )
    LOGIN_CODE_LOCKED = (
        "login_code_locked",
        _("The code was typed wrong too many times. Ask for a new one."),
        422,
    )
