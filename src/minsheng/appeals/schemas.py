"""API shapes of appeals. Personal data leaves only masked unless revealed (and audited)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ninja import Field, Schema

from .choices import AppealType, Channel, Rating, Status, TimeUnit, Urgency

Text = Field(min_length=1, max_length=5000)
Reason = Field(min_length=1, max_length=2000)


class UnitRef(Schema):
    id: int
    name: str


class CategoryRef(Schema):
    id: int
    code: str
    name: str


# ---- citizen-facing


class UploadOut(Schema):
    upload_token: str
    kind: str
    size: int


class CitizenSubmitIn(Schema):
    channel: Channel = Channel.WEB_PORTAL
    appeal_type: AppealType
    content: str = Text
    title: str = Field("", max_length=100)
    phone: str = Field("", max_length=20)
    name: str = Field("", max_length=50)
    anonymous: bool = False
    category_id: int | None = None
    territory_id: int | None = None
    address: str = Field("", max_length=200)
    latitude: Decimal | None = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, ge=-180, le=180, max_digits=9, decimal_places=6)
    uploads: list[str] = Field(default_factory=list, max_length=6)


class SubmitOut(Schema):
    id: int
    tracking_code: str
    status: Status
    created_at: datetime


class TrackIn(Schema):
    tracking_code: str = Field(min_length=4, max_length=20)
    phone: str = Field("", max_length=20)


class SupplementIn(TrackIn):
    text: str = Field("", max_length=5000)
    uploads: list[str] = Field(default_factory=list, max_length=6)


class CitizenRateIn(TrackIn):
    rating: Rating
    solved: bool | None = None
    comment: str = Field("", max_length=500)


class PublicEventOut(Schema):
    at: datetime
    action: str
    action_label: str
    status: Status
    unit: str | None


class TrackOut(Schema):
    tracking_code: str
    status: Status
    status_label: str
    appeal_type: AppealType
    category: str | None
    created_at: datetime
    due_at: datetime | None
    reply: str
    closed_at: datetime | None
    rating: str
    can_rate: bool
    timeline: list[PublicEventOut]


# ---- staff


class AppealListItem(Schema):
    id: int
    tracking_code: str
    status: Status
    channel: Channel
    appeal_type: AppealType
    urgency: Urgency
    category: CategoryRef | None
    territory: UnitRef | None
    lead_unit: UnitRef | None
    title: str
    excerpt: str
    citizen_name: str
    citizen_phone: str
    created_at: datetime
    accept_due_at: datetime | None
    due_at: datetime | None


class AppealPage(Schema):
    items: list[AppealListItem]
    next_cursor: str | None


class EventOut(Schema):
    id: int
    at: datetime
    action: str
    action_label: str
    actor: str | None
    actor_kind: str
    from_status: str
    to_status: Status
    unit: UnitRef | None
    reason: str
    accept_due_at: datetime | None
    due_at: datetime | None
    data: dict


class AssignmentOut(Schema):
    unit: UnitRef
    role: str
    active: bool
    assigned_at: datetime


class ExtensionOut(Schema):
    id: int
    amount: int
    unit: TimeUnit
    reason: str
    state: str
    requested_at: datetime
    decided_at: datetime | None


class AttachmentOut(Schema):
    id: int
    kind: str
    size: int
    original_name: str


class AppealDetail(AppealListItem):
    content: str
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    is_anonymous: bool
    reply: str
    replied_at: datetime | None
    closed_at: datetime | None
    closed_on_time: bool | None
    rating: str
    solved: bool | None
    rating_comment: str
    reopen_count: int
    merged_into: str | None
    version: int
    events: list[EventOut]
    assignments: list[AssignmentOut]
    extensions: list[ExtensionOut]
    attachments: list[AttachmentOut]
    allowed_actions: list[str]


class IntakeIn(CitizenSubmitIn):
    channel: Channel
    urgency: Urgency = Urgency.NORMAL


class ContactOut(Schema):
    name: str
    phone: str


class RevealIn(Schema):
    purpose: str = Field("", max_length=200)


class DispatchIn(Schema):
    unit_id: int | None = None
    co_unit_ids: list[int] = Field(default_factory=list, max_length=10)
    category_id: int | None = None
    note: str = Field("", max_length=2000)


class RedispatchIn(Schema):
    unit_id: int
    co_unit_ids: list[int] = Field(default_factory=list, max_length=10)
    reason: str = Reason


class ReasonIn(Schema):
    reason: str = Reason


class NoteIn(Schema):
    note: str = Field("", max_length=2000)


class TransferIn(Schema):
    unit_id: int
    note: str = Field("", max_length=2000)


class ExtensionIn(Schema):
    amount: int = Field(ge=1, le=90)
    unit: TimeUnit
    reason: str = Reason


class ReplyIn(Schema):
    reply: str = Text


class StaffRateIn(Schema):
    rating: Rating
    solved: bool | None = None
    comment: str = Field("", max_length=500)


class MergeIn(Schema):
    into_id: int
    reason: str = Field("", max_length=2000)


class StaffSupplementIn(Schema):
    text: str = Field("", max_length=5000)
    uploads: list[str] = Field(default_factory=list, max_length=6)


class SuggestionOut(Schema):
    unit: UnitRef | None
    accept_amount: int | None
    accept_unit: str | None
    complete_amount: int | None
    complete_unit: str | None


class TransitionOut(Schema):
    id: int
    status: Status
    version: int
    event_id: int
    accept_due_at: datetime | None
    due_at: datetime | None
