"""Vocabularies of the appeal lifecycle (DESIGN.md glossary)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("Hotline")  # 热线电话
    MINI_PROGRAM = "mini_program", _("Mini-program")  # 小程序
    WEB_PORTAL = "web_portal", _("Website message")  # 网站留言
    HOME_VISIT = "home_visit", _("Home visit")  # 入户走访
    WALK_IN = "walk_in", _("Walk-in counter")  # 开门办事 / 窗口
    API = "api", _("API")  # 其他系统接入


class AppealType(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")  # 投诉
    HELP = "help", _("Request for help")  # 求助
    SUGGESTION = "suggestion", _("Suggestion")  # 建议
    CONSULTATION = "consultation", _("Consultation")  # 咨询
    REPORT = "report", _("Report")  # 举报
    PRAISE = "praise", _("Praise")  # 表扬


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")  # 一般
    URGENT = "urgent", _("Urgent")  # 紧急
    CRITICAL = "critical", _("Critical")  # 特急


class TimeUnit(models.TextChoices):
    HOURS = "hours", _("hours")  # 小时（自然时）
    WORKING_DAYS = "working_days", _("working days")  # 工作日
    CALENDAR_DAYS = "calendar_days", _("calendar days")  # 日（民法典计算）


class Status(models.TextChoices):
    RECEIVED = "received", _("Received")  # 已受理：waiting to be dispatched
    DISPATCHED = "dispatched", _("Dispatched")  # 已派单：waiting for the lead unit to accept
    RETURNED = "returned", _("Returned")  # 已退单：the unit sent it back; dispatcher reviews
    IN_PROGRESS = "in_progress", _("In progress")  # 办理中：accepted by the lead unit
    SUSPENDED = "suspended", _("Suspended")  # 已挂起：clock stopped, waiting on someone
    REPLIED = "replied", _("Replied")  # 已答复：reply waiting for the center's review
    CLOSED = "closed", _("Closed")  # 已办结：counted as completed; may be rated, may reopen
    INVALID = "invalid", _("Invalid")  # 无效：not an appeal (prank call, spam), with reason
    MERGED = "merged", _("Merged")  # 已并单：joined to another appeal about the same matter


OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.DISPATCHED,
        Status.RETURNED,
        Status.IN_PROGRESS,
        Status.SUSPENDED,
        Status.REPLIED,
    }
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.INVALID, Status.MERGED})


class Action(models.TextChoices):
    """What an event records: one per service function of ``services``."""

    SUBMIT = "submit", _("Submitted")  # 受理
    DISPATCH = "dispatch", _("Dispatched")  # 派单
    REDISPATCH = "redispatch", _("Redispatched")  # 改派
    ACCEPT = "accept", _("Accepted")  # 签收
    RETURN = "return", _("Returned")  # 退单
    APPROVE_RETURN = "approve_return", _("Return approved")  # 同意退单
    REJECT_RETURN = "reject_return", _("Return rejected")  # 驳回退单
    TRANSFER = "transfer", _("Transferred")  # 下派 / 转办
    REQUEST_EXTENSION = "request_extension", _("Extension requested")  # 申请延期
    APPROVE_EXTENSION = "approve_extension", _("Extension approved")  # 同意延期
    REFUSE_EXTENSION = "refuse_extension", _("Extension refused")  # 不同意延期
    SUSPEND = "suspend", _("Suspended")  # 挂起
    RESUME = "resume", _("Resumed")  # 恢复
    REPLY = "reply", _("Replied")  # 答复
    APPROVE_REPLY = "approve_reply", _("Reply approved")  # 审核通过 → 办结
    REWORK = "rework", _("Sent back for rework")  # 退回重办
    RATE = "rate", _("Rated")  # 评价 / 回访
    REOPEN = "reopen", _("Reopened")  # 不满意重办
    DIRECT_CLOSE = "direct_close", _("Closed at intake")  # 直接办结
    INVALIDATE = "invalidate", _("Marked invalid")  # 无效
    MERGE = "merge", _("Merged")  # 并单
    SUPPLEMENT = "supplement", _("Supplement added")  # 补充材料
    REVEAL = "reveal", _("Contact revealed")  # 查看联系方式
    # Supervision (minsheng.supervision): recorded on the history, the status stays.
    REMIND = "remind", _("Reminder sent")  # 催办
    SUPERVISE = "supervise", _("Supervision order issued")  # 督办
    ESCALATE = "escalate", _("Escalated to the supervisors")  # 升级督办
    RESPOND_SUPERVISION = "respond_supervision", _("Supervision order answered")  # 督办回复


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")  # 满意
    BASICALLY_SATISFIED = "basically_satisfied", _("Basically satisfied")  # 基本满意
    UNSATISFIED = "unsatisfied", _("Unsatisfied")  # 不满意


class AssignmentRole(models.TextChoices):
    LEAD = "lead", _("Lead unit")  # 主办
    CO = "co", _("Co-unit")  # 协办


class ExtensionState(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class ActorKind(models.TextChoices):
    STAFF = "staff", _("Staff")
    CITIZEN = "citizen", _("Citizen")
    SYSTEM = "system", _("System")
