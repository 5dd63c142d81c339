"""Error codes of the organisation's writes (roles, tokens, accounts); each is stable."""

from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import ErrorCode


class OrgError(ErrorCode):
    NOT_PERMITTED = ("org_not_permitted", _("Your role may not do this."), 403)
    DUTY_CONFLICT = (
        "duty_conflict",
        _(
            "One account may hold only one of the duties center administrator, security "
            "administrator and auditor (separation of duties)."
        ),
        409,
    )
    ROLE_ALREADY_HELD = ("role_already_held", _("The account already holds this role."), 409)
    ROLE_NOT_GRANTABLE = (
        "role_not_grantable",
        _("This role cannot be granted by hand: an integration's role comes with its API token."),
        422,
    )
    OWN_ROLES = ("own_roles", _("Nobody may grant or remove their own roles."), 403)
    MEMBERSHIP_NOT_FOUND = ("membership_not_found", _("No such role assignment."), 404)
    TOKEN_REVOKED = ("token_revoked", _("This API token has already been revoked."), 409)
