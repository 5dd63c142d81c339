"""Error codes of smart dispatch; each is stable and has a translated message."""

from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import ErrorCode


class DispatchError(ErrorCode):
    NO_MODEL = ("no_model", _("No dispatch model has been trained yet."), 409)
    CORRUPT_MODEL = (
        "corrupt_model",
        _("The dispatch model file is damaged; train the model again."),
        409,
    )
    INCOMPATIBLE_MODEL = (
        "incompatible_model",
        _("The dispatch model was made by another version of the software; train it again."),
        409,
    )
    UNTRUSTED_MODEL = (
        "untrusted_model",
        _("The dispatch model file does not match its signature and was not loaded."),
        409,
    )
    TOO_LITTLE_DATA = (
        "too_little_data",
        _("Too few categorised appeals to train a dispatch model."),
        422,
    )
    SINGLE_CATEGORY = (
        "single_category",
        _("All training appeals have the same category; at least two are needed."),
        422,
    )
    CATEGORY_TOO_RARE = (
        "category_too_rare",
        _("Some categories have too few appeals to learn from."),
        422,
    )
    BAD_TRAINING_FILE = (
        "bad_training_file",
        _("The training file cannot be read (a CSV file with label and text columns)."),
        422,
    )

    @classmethod
    def for_code(cls, code: str) -> "DispatchError":
        for member in cls:
            if member.code == code:
                return member
        return cls.CORRUPT_MODEL
