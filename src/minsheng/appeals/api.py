"""The appeals API (``/api/v1``): citizen endpoints and staff endpoints.

Handlers parse input, look things up in the caller's scope and call one service; they hold no
business rules. Every refusal is a ``DomainError`` rendered as ``{"code", "message", "details"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import Field, File, Header, Query, Router, Schema
from ninja import Status as Reply
from ninja.files import UploadedFile

from minsheng.core import ratelimit
from minsheng.core.errors import CoreError, DomainError
from minsheng.core.idempotency import run_once
from minsheng.dispatch.schemas import DuplicatesOut, SuggestionsOut
from minsheng.org.models import OrgUnit, User

from . import presenters, reference, selectors, services
from .attachments import content_type_of, open_attachment, store_upload
from .choices import AppealType, Channel, Status
from .errors import AppealError
from .models import Appeal, AppealEvent, Category
from .reference import resolve_time_limit, suggest_unit
from .schemas import (
    AppealDetail,
    AppealListItem,
    AppealPage,
    CitizenRateIn,
    CitizenSubmitIn,
    ContactOut,
    DispatchIn,
    ExtensionIn,
    IntakeIn,
    MergeIn,
    NoteIn,
    ReasonIn,
    RedispatchIn,
    ReplyIn,
    RevealIn,
    StaffRateIn,
    StaffSupplementIn,
    SubmitOut,
    SuggestionOut,
    SupplementIn,
    TrackIn,
    TrackOut,
    TransferIn,
    TransitionOut,
    UploadOut,
)

public_router = Router(tags=["citizen"])
staff_router = Router(tags=["staff"])

ERRORS = {
    400: dict,
    401: dict,
    403: dict,
    404: dict,
    409: dict,
    413: dict,
    415: dict,
    422: dict,
    429: dict,
    503: dict,  # the database out of reach for a moment (core.error_views): retry after a while
}


class ErrorOut(Schema):
    code: str
    message: str
    details: dict


ERROR_RESPONSES: dict[int, Any] = {code: ErrorOut for code in ERRORS}


# ---------------------------------------------------------------- lookups


def _category(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    found = reference.active_category(category_id)
    if found is None:
        raise DomainError(AppealError.UNKNOWN_CATEGORY, {"category_id": category_id})
    return found


def _territory(territory_id: int | None) -> OrgUnit | None:
    if territory_id is None:
        return None
    found = reference.active_territory(territory_id)
    if found is None:
        raise DomainError(AppealError.UNKNOWN_TERRITORY, {"territory_id": territory_id})
    return found


def _unit(unit_id: int) -> OrgUnit:
    found = OrgUnit.objects.filter(pk=unit_id).first()
    if found is None:
        raise DomainError(AppealError.UNKNOWN_UNIT, {"unit_id": unit_id})
    return found


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    if not isinstance(user, User):  # every staff route has an auth class; never None here
        raise DomainError(CoreError.NOT_AUTHENTICATED)
    return user


def _visible(request: HttpRequest, appeal_id: int) -> Appeal:
    appeal = selectors.appeals_for(_user(request)).filter(pk=appeal_id).first()
    if appeal is None:
        raise DomainError(AppealError.NOT_FOUND)
    return appeal


def _phone_or_blank(phone: str) -> str:
    return services.normalize_phone(phone) if phone.strip() else ""


def _submit(actor: User | None, payload: CitizenSubmitIn | IntakeIn) -> tuple[int, dict[str, Any]]:
    appeal = services.submit_appeal(
        actor=actor,
        channel=payload.channel,
        appeal_type=payload.appeal_type,
        urgency=getattr(payload, "urgency", "normal"),
        content=payload.content,
        title=payload.title,
        phone=payload.phone,
        name=payload.name,
        anonymous=payload.anonymous,
        category=_category(payload.category_id),
        territory=_territory(payload.territory_id),
        address=payload.address,
        latitude=payload.latitude,
        longitude=payload.longitude,
        upload_tokens=payload.uploads,
    )
    body = {
        "id": appeal.pk,
        "tracking_code": appeal.tracking_code,
        "status": appeal.status,
        "created_at": appeal.created_at.isoformat(),
    }
    return 201, body


def _idempotent(
    scope: str, key: str | None, payload: Schema, run: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any]]:
    if key is None:
        with transaction.atomic():
            return run()
    outcome = run_once(scope=scope, key=key, payload=payload.model_dump(mode="json"), run=run)
    return outcome.status, outcome.body


# ---------------------------------------------------------------- citizens


@public_router.post(
    "/uploads",
    response={201: UploadOut, 507: ErrorOut, **ERROR_RESPONSES},
    summary="Upload a photo or PDF (then name it in a submission)",
)
def upload(request: HttpRequest, file: File[UploadedFile]) -> Reply[dict[str, Any]]:
    ratelimit.hit("upload", ratelimit.client_address(request), limit=60)
    attachment = store_upload(data=file, original_name=file.name or "")
    return Reply(
        201,
        {"upload_token": attachment.upload_token, "kind": attachment.kind, "size": attachment.size},
    )


@public_router.post(
    "/appeals",
    response={201: SubmitOut, **ERROR_RESPONSES},
    summary="Submit an appeal (retry safely with Idempotency-Key)",
)
def submit(
    request: HttpRequest,
    payload: CitizenSubmitIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Reply[dict[str, Any]]:
    if payload.channel not in (Channel.WEB_PORTAL, Channel.MINI_PROGRAM):
        raise DomainError(AppealError.NOT_PERMITTED, {"channel": payload.channel})
    return Reply(*_idempotent("public", idempotency_key, payload, lambda: _submit(None, payload)))


def _tracked(request: HttpRequest, payload: TrackIn) -> Appeal:
    ratelimit.hit("track", ratelimit.client_address(request), limit=settings.MINSHENG_TRACKING_RATE)
    code = services.normalize_tracking_code(payload.tracking_code)
    try:
        phone = _phone_or_blank(payload.phone)
    except DomainError:
        raise DomainError(AppealError.TRACKING_NOT_FOUND) from None
    return selectors.by_tracking(code, phone)


@public_router.post(
    "/appeals/track",
    response={200: TrackOut, **ERROR_RESPONSES},
    summary="Follow an appeal by tracking code and phone",
)
def track(request: HttpRequest, payload: TrackIn) -> dict[str, Any]:
    return presenters.public_view(_tracked(request, payload))


@public_router.post(
    "/appeals/supplement",
    response={200: TrackOut, **ERROR_RESPONSES},
    summary="Add information or photos to an open appeal",
)
def supplement(request: HttpRequest, payload: SupplementIn) -> dict[str, Any]:
    appeal = _tracked(request, payload)
    services.add_supplement(
        appeal=appeal, actor=None, text=payload.text, upload_tokens=payload.uploads
    )
    return presenters.public_view(_tracked_again(appeal))


@public_router.post(
    "/appeals/rate",
    response={200: TrackOut, **ERROR_RESPONSES},
    summary="Rate the handling of a closed appeal",
)
def rate(request: HttpRequest, payload: CitizenRateIn) -> dict[str, Any]:
    appeal = _tracked(request, payload)
    services.rate_appeal(
        appeal=appeal,
        actor=None,
        rating=payload.rating,
        solved=payload.solved,
        comment=payload.comment,
    )
    return presenters.public_view(_tracked_again(appeal))


def _tracked_again(appeal: Appeal) -> Appeal:
    return selectors.by_tracking(appeal.tracking_code, appeal.citizen_phone)


# ---------------------------------------------------------------- staff: reads


class QueueQuery(Schema):
    status: list[Status] = []
    unit_id: int | None = None
    channel: list[Channel] = []
    appeal_type: list[AppealType] = []
    category_id: int | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str = ""
    due_24h: bool = False
    overdue: bool = False
    unrated: bool = False
    territory_id: int | None = Field(None, description="a township or village, with its subtree")
    counted: bool = Field(
        False, description="only appeals the statistics count (not invalid or merged)"
    )
    sort: Literal["newest", "oldest", "due"] = Field(
        "newest", description="newest or oldest received first, or the soonest deadline first"
    )
    cursor: str | None = None
    limit: int = 50


def _utc(value: datetime | None) -> datetime | None:
    """Any offset the client sends (or none: Asia/Shanghai) as UTC, as the database stores it."""
    if value is None:
        return None
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. year 1 with a positive offset
        raise DomainError(CoreError.VALIDATION, {"field": "received_from/received_to"}) from None


@staff_router.get(
    "/appeals",
    response={200: AppealPage, **ERROR_RESPONSES},
    summary="My queue: appeals in my scope, newest first or as sorted, keyset-paged",
)
def list_appeals(request: HttpRequest, query: Query[QueueQuery]) -> dict[str, Any]:
    if not 1 <= query.limit <= 200:
        raise DomainError(CoreError.VALIDATION, {"field": "limit", "min": 1, "max": 200})
    if len(query.q) > 100:
        raise DomainError(CoreError.VALIDATION, {"field": "q", "max_length": 100})
    page = selectors.queue(
        _user(request),
        selectors.QueueFilter(
            status=list(query.status),
            unit=query.unit_id,
            channel=list(query.channel),
            appeal_type=list(query.appeal_type),
            category=query.category_id,
            received_from=_utc(query.received_from),
            received_to=_utc(query.received_to),
            text=query.q,
            due_24h=query.due_24h,
            overdue=query.overdue,
            unrated=query.unrated,
            place=query.territory_id,
            counted=query.counted,
            sort=query.sort,
        ),
        cursor=query.cursor,
        limit=query.limit,
    )
    return {"items": [presenters.list_item(a) for a in page.items], "next_cursor": page.next_cursor}


@staff_router.get(
    "/appeals/caller-history",
    response={200: list[AppealListItem], **ERROR_RESPONSES},
    summary="A caller's earlier appeals, by phone number (hotline intake)",
)
def caller_history(request: HttpRequest, phone: str) -> list[dict[str, Any]]:
    digits = services.normalize_phone(phone)
    return [presenters.list_item(a) for a in selectors.caller_history(_user(request), digits)]


@staff_router.get(
    "/appeals/suggestion",
    response={200: SuggestionOut, **ERROR_RESPONSES},
    summary="The dispatch catalogue's unit and the time limit for an appeal",
)
def suggestion(
    request: HttpRequest,
    category_id: int,
    territory_id: int | None = None,
    appeal_type: AppealType = AppealType.COMPLAINT,
    urgency: str = "normal",
) -> dict[str, Any]:
    category = _category(category_id)
    unit = suggest_unit(category=category, territory=_territory(territory_id))
    try:
        limits = resolve_time_limit(appeal_type=appeal_type, category=category, urgency=urgency)
    except DomainError:
        limits = None
    return {
        "unit": presenters.unit_ref(unit),
        "accept_amount": limits.accept_amount if limits else None,
        "accept_unit": limits.accept_unit if limits else None,
        "complete_amount": limits.complete_amount if limits else None,
        "complete_unit": limits.complete_unit if limits else None,
    }


@staff_router.get(
    "/appeals/{appeal_id}",
    response={200: AppealDetail, **ERROR_RESPONSES},
    summary="One appeal with its full timeline and the actions I may take",
)
def get_appeal(request: HttpRequest, appeal_id: int) -> dict[str, Any]:
    user = _user(request)
    return presenters.detail(user, selectors.appeal_detail(user, appeal_id))


@staff_router.get(
    "/appeals/{appeal_id}/suggestions",
    response={200: SuggestionsOut, **ERROR_RESPONSES},
    summary="智能派单 Likeliest categories (calibrated) and the catalogue's unit for the top one",
)
def category_suggestions(request: HttpRequest, appeal_id: int) -> dict[str, Any]:
    from minsheng.dispatch.selectors import suggestions_for

    return suggestions_for(_user(request), appeal_id)


@staff_router.get(
    "/appeals/{appeal_id}/duplicates",
    response={200: DuplicatesOut, **ERROR_RESPONSES},
    summary="并单 Open appeals probably about the same problem (same place, recent), with a score",
)
def duplicate_suggestions(request: HttpRequest, appeal_id: int) -> dict[str, Any]:
    from minsheng.dispatch.selectors import duplicates_for

    return duplicates_for(_user(request), appeal_id)


@staff_router.post(
    "/appeals/{appeal_id}/reveal",
    response={200: ContactOut, **ERROR_RESPONSES},
    summary="Reveal the citizen's name and phone (audited)",
)
def reveal(request: HttpRequest, appeal_id: int, payload: RevealIn) -> dict[str, str]:
    appeal = _visible(request, appeal_id)
    return services.reveal_contact(appeal=appeal, actor=_user(request), purpose=payload.purpose)


@staff_router.get(
    "/appeals/{appeal_id}/attachments/{attachment_id}",
    response={200: None, **ERROR_RESPONSES},
    summary="Download an attachment of an appeal in my scope",
)
def download_attachment(request: HttpRequest, appeal_id: int, attachment_id: int) -> FileResponse:
    appeal = _visible(request, appeal_id)
    attachment = appeal.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise DomainError(CoreError.NOT_FOUND)
    response = FileResponse(
        open_attachment(attachment),
        content_type=content_type_of(attachment),
        as_attachment=attachment.kind == "pdf",
        filename=attachment.original_name or None,
    )
    # Citizens' photos: never cached by shared proxies, never sniffed as something else.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- staff: intake


@staff_router.post(
    "/appeals",
    response={201: SubmitOut, **ERROR_RESPONSES},
    summary="Register an appeal on a citizen's behalf (hotline, visit, counter)",
)
def intake(
    request: HttpRequest,
    payload: IntakeIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Reply[dict[str, Any]]:
    user = _user(request)
    return Reply(
        *_idempotent(f"user:{user.pk}", idempotency_key, payload, lambda: _submit(user, payload))
    )


# ---------------------------------------------------------------- staff: transitions


def _done(event: AppealEvent) -> dict[str, Any]:
    appeal = event.appeal
    return {
        "id": appeal.pk,
        "status": appeal.status,
        "version": appeal.version,
        "event_id": event.pk,
        "accept_due_at": appeal.accept_due_at,
        "due_at": appeal.due_at,
    }


def _transition(path: str, summary: str) -> Callable[[Callable[..., AppealEvent]], Any]:
    """Register a POST /appeals/{id}/<path> that runs one service and reports the new state."""

    def register(handler: Callable[..., AppealEvent]) -> Any:
        def view(request: HttpRequest, appeal_id: int, **kwargs: Any) -> dict[str, Any]:
            appeal = _visible(request, appeal_id)
            return _done(handler(appeal, _user(request), **kwargs))

        view.__name__ = handler.__name__
        view.__signature__ = _signature_with_payload(handler)  # type: ignore[attr-defined]
        return staff_router.post(
            f"/appeals/{{appeal_id}}/{path}",
            response={200: TransitionOut, **ERROR_RESPONSES},
            summary=summary,
            operation_id=handler.__name__,
        )(view)

    return register


def _signature_with_payload(handler: Callable[..., Any]) -> Any:
    import inspect

    params = [
        inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HttpRequest
        ),
        inspect.Parameter("appeal_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=int),
    ]
    payload = inspect.signature(handler).parameters.get("payload")
    if payload is not None:
        params.append(payload.replace(kind=inspect.Parameter.KEYWORD_ONLY))
    return inspect.Signature(params)


@_transition("dispatch", "派单 Dispatch to a lead unit (the catalogue's suggestion by default)")
def dispatch(appeal: Appeal, user: User, payload: DispatchIn) -> AppealEvent:
    return services.dispatch_appeal(
        appeal=appeal,
        actor=user,
        unit=_unit(payload.unit_id) if payload.unit_id is not None else None,
        co_units=[_unit(u) for u in payload.co_unit_ids],
        category=_category(payload.category_id),
        note=payload.note,
    )


@_transition("redispatch", "改派 Move to another unit")
def redispatch(appeal: Appeal, user: User, payload: RedispatchIn) -> AppealEvent:
    return services.redispatch_appeal(
        appeal=appeal,
        actor=user,
        unit=_unit(payload.unit_id),
        co_units=[_unit(u) for u in payload.co_unit_ids],
        reason=payload.reason,
    )


@_transition("accept", "签收 Accept")
def accept(appeal: Appeal, user: User) -> AppealEvent:
    return services.accept_appeal(appeal=appeal, actor=user)


@_transition("return", "退单 Return to the center with a reason")
def return_(appeal: Appeal, user: User, payload: ReasonIn) -> AppealEvent:
    return services.return_appeal(appeal=appeal, actor=user, reason=payload.reason)


@_transition("approve-return", "同意退单 Approve a return (back to dispatch)")
def approve_return(appeal: Appeal, user: User, payload: NoteIn) -> AppealEvent:
    return services.approve_return(appeal=appeal, actor=user, note=payload.note)


@_transition("reject-return", "驳回退单 Reject a return")
def reject_return(appeal: Appeal, user: User, payload: ReasonIn) -> AppealEvent:
    return services.reject_return(appeal=appeal, actor=user, reason=payload.reason)


@_transition("transfer", "下派 Pass down to a subordinate unit")
def transfer(appeal: Appeal, user: User, payload: TransferIn) -> AppealEvent:
    return services.transfer_appeal(
        appeal=appeal, actor=user, unit=_unit(payload.unit_id), note=payload.note
    )


@_transition("request-extension", "申请延期 Request an extension")
def request_extension(appeal: Appeal, user: User, payload: ExtensionIn) -> AppealEvent:
    services.request_extension(
        appeal=appeal,
        actor=user,
        amount=payload.amount,
        unit=payload.unit,
        reason=payload.reason,
    )
    return AppealEvent.objects.select_related("appeal").filter(appeal=appeal).latest("pk")


@_transition("approve-extension", "同意延期 Approve the pending extension")
def approve_extension(appeal: Appeal, user: User, payload: NoteIn) -> AppealEvent:
    return services.approve_extension(appeal=appeal, actor=user, note=payload.note)


@_transition("refuse-extension", "不同意延期 Refuse the pending extension")
def refuse_extension(appeal: Appeal, user: User, payload: ReasonIn) -> AppealEvent:
    return services.refuse_extension(appeal=appeal, actor=user, reason=payload.reason)


@_transition("suspend", "挂起 Suspend (the clock stops)")
def suspend(appeal: Appeal, user: User, payload: ReasonIn) -> AppealEvent:
    return services.suspend_appeal(appeal=appeal, actor=user, reason=payload.reason)


@_transition("resume", "恢复 Resume")
def resume(appeal: Appeal, user: User, payload: NoteIn) -> AppealEvent:
    return services.resume_appeal(appeal=appeal, actor=user, note=payload.note)


@_transition("reply", "答复 Reply to the citizen (for review)")
def reply(appeal: Appeal, user: User, payload: ReplyIn) -> AppealEvent:
    return services.reply_appeal(appeal=appeal, actor=user, reply=payload.reply)


@_transition("approve-reply", "审核通过 Approve the reply and close")
def approve_reply(appeal: Appeal, user: User, payload: NoteIn) -> AppealEvent:
    return services.approve_reply(appeal=appeal, actor=user, note=payload.note)


@_transition("rework", "退回重办 Send the reply back for rework")
def rework(appeal: Appeal, user: User, payload: ReasonIn) -> AppealEvent:
    return services.rework_appeal(appeal=appeal, actor=user, reason=payload.reason)


@_transition("rate", "回访 Record the citizen's rating (callback)")
def rate_callback(appeal: Appeal, user: User, payload: StaffRateIn) -> AppealEvent:
    return services.rate_appeal(
        appeal=appeal,
        actor=user,
        rating=payload.rating,
        solved=payload.solved,
        comment=payload.comment,
    )


@_transition("direct-close", "直接办结 Answer at intake and close")
def direct_close(appeal: Appeal, user: User, payload: ReplyIn) -> AppealEvent:
    return services.direct_close_appeal(appeal=appeal, actor=user, reply=payload.reply)


@_transition("invalidate", "无效 Mark invalid")
def invalidate(appeal: Appeal, user: User, payload: ReasonIn) -> AppealEvent:
    return services.invalidate_appeal(appeal=appeal, actor=user, reason=payload.reason)


@_transition("merge", "并单 Merge into another appeal")
def merge(appeal: Appeal, user: User, payload: MergeIn) -> AppealEvent:
    target = selectors.appeals_for(user).filter(pk=payload.into_id).first()
    if target is None:
        raise DomainError(AppealError.NOT_FOUND, {"into_id": payload.into_id})
    return services.merge_appeal(appeal=appeal, actor=user, into=target, reason=payload.reason)


@_transition("supplement", "补充 Add information (e.g. from a follow-up call)")
def staff_supplement(appeal: Appeal, user: User, payload: StaffSupplementIn) -> AppealEvent:
    return services.add_supplement(
        appeal=appeal, actor=user, text=payload.text, upload_tokens=payload.uploads
    )
