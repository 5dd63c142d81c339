"""Kinds of organisation unit and staff roles."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    CITY = "city", _("City")  # 市（县级市）：the root, home of the service center
    TOWNSHIP = "township", _("Township")  # 乡镇
    STREET = "street", _("Street")  # 街道
    VILLAGE = "village", _("Village")  # 村
    COMMUNITY = "community", _("Community")  # 社区
    DEPARTMENT = "department", _("Department")  # 职能部门（条）


TERRITORIAL_KINDS = frozenset(
    {UnitKind.CITY, UnitKind.TOWNSHIP, UnitKind.STREET, UnitKind.VILLAGE, UnitKind.COMMUNITY}
)


class Role(models.TextChoices):
    HOTLINE_AGENT = "hotline_agent", _("Hotline agent")  # 话务员：intake, direct close, callback
    DISPATCHER = "dispatcher", _("Dispatcher")  # 派单员：dispatch, returns, review
    HANDLER = "handler", _("Handler")  # 承办人：accept, handle, reply for their unit
    UNIT_LEADER = "unit_leader", _("Unit leader")  # 单位负责人：as handler, plus oversight
    SUPERVISOR = "supervisor", _("Supervisor")  # 督办员：extensions, review, supervision
    CENTER_ADMIN = "center_admin", _("Center administrator")  # 中心管理员：everything central
    AUDITOR = "auditor", _("Auditor")  # 审计员：read-only, audit log
    SECURITY_ADMIN = "security_admin", _("Security administrator")  # 安全管理员：roles, tokens
    INTEGRATION = "integration", _("Integration")  # 接口账号：an API token's identity


# Roles of the service center: they act on every appeal in their units' territory.
CENTER_ROLES = frozenset(
    {Role.HOTLINE_AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.CENTER_ADMIN, Role.AUDITOR}
)
# Roles of handling units: they act on appeals assigned to their units.
UNIT_ROLES = frozenset({Role.HANDLER, Role.UNIT_LEADER})
