"""Who may see and do what with an appeal: ``can_*`` predicates and the ``visible_to`` rule.

Center roles act on appeals in their units' territory (a post at the city root covers all);
handling units act on appeals assigned to them (a handler on their own unit, a unit leader on
their subtree). Out-of-scope appeals are invisible (404), not forbidden (403).
"""

from __future__ import annotations

from django.db.models import Q

from minsheng.org.choices import Role
from minsheng.org.models import OrgUnit, User
from minsheng.org.selectors import Post, posts_of, unit_ids_under

from .choices import Action, AssignmentRole, Channel
from .models import Appeal, AppealAssignment

R = Role

# Center roles per action (scope: the appeal's territory or lead unit under the post).
CENTER_ACTIONS: dict[Action, frozenset[Role]] = {
    Action.DISPATCH: frozenset({R.DISPATCHER, R.CENTER_ADMIN}),
    Action.REDISPATCH: frozenset({R.DISPATCHER, R.CENTER_ADMIN}),
    Action.APPROVE_RETURN: frozenset({R.DISPATCHER, R.CENTER_ADMIN}),
    Action.REJECT_RETURN: frozenset({R.DISPATCHER, R.CENTER_ADMIN}),
    Action.INVALIDATE: frozenset({R.DISPATCHER, R.CENTER_ADMIN}),
    Action.MERGE: frozenset({R.DISPATCHER, R.CENTER_ADMIN}),
    Action.DIRECT_CLOSE: frozenset({R.HOTLINE_AGENT, R.DISPATCHER, R.CENTER_ADMIN}),
    Action.APPROVE_EXTENSION: frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
    Action.REFUSE_EXTENSION: frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
    Action.APPROVE_REPLY: frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
    Action.REWORK: frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
    # A callback (回访): the agent records the citizen's rating.
    Action.RATE: frozenset({R.HOTLINE_AGENT, R.DISPATCHER, R.CENTER_ADMIN}),
    Action.SUPPLEMENT: frozenset({R.HOTLINE_AGENT, R.DISPATCHER, R.CENTER_ADMIN}),
    Action.REVEAL: frozenset({R.HOTLINE_AGENT, R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
    # 催办 / 督办 by hand (the sweep issues them as the system).
    Action.REMIND: frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
    Action.SUPERVISE: frozenset({R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN}),
}
# Actions of the lead unit's own staff.
UNIT_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.RETURN,
        Action.TRANSFER,
        Action.REQUEST_EXTENSION,
        Action.SUSPEND,
        Action.RESUME,
        Action.REPLY,
        Action.REVEAL,
    }
)
CENTER_VIEW_ROLES = frozenset(
    {R.HOTLINE_AGENT, R.DISPATCHER, R.SUPERVISOR, R.CENTER_ADMIN, R.AUDITOR}
)
# Who may register an appeal on a citizen's behalf, and through which channels.
INTAKE_CHANNELS: dict[Role, frozenset[Channel]] = {
    R.HOTLINE_AGENT: frozenset(Channel),
    R.DISPATCHER: frozenset(Channel),
    R.CENTER_ADMIN: frozenset(Channel),
    R.HANDLER: frozenset({Channel.HOME_VISIT, Channel.WALK_IN}),
    R.UNIT_LEADER: frozenset({Channel.HOME_VISIT, Channel.WALK_IN}),
    R.INTEGRATION: frozenset(
        {Channel.HOTLINE, Channel.MINI_PROGRAM, Channel.WEB_PORTAL, Channel.API}
    ),
}


def _is_root(post: Post) -> bool:
    return post.unit_path.count("/") == 2  # "/<id>/": the city root


def _center_covers(post: Post, appeal: Appeal) -> bool:
    if _is_root(post):
        return True
    for unit in (appeal.territory, appeal.lead_unit):
        if unit is not None and unit.path.startswith(post.unit_path):
            return True
    return False


def _unit_covers(post: Post, unit: OrgUnit | None) -> bool:
    if unit is None:
        return False
    if post.role == R.HANDLER:
        return post.unit_id == unit.pk
    return post.role == R.UNIT_LEADER and unit.path.startswith(post.unit_path)


def _co_units(appeal: Appeal) -> list[OrgUnit]:
    return [a.unit for a in appeal.assignments.all() if a.active and a.role == "co"]


def can_view(user: User, appeal: Appeal) -> bool:
    """Python twin of ``visible_to`` for one appeal already in memory."""
    if appeal.intake_by_id is not None and appeal.intake_by_id == user.pk:
        return True
    for post in posts_of(user):
        if post.role in CENTER_VIEW_ROLES and _center_covers(post, appeal):
            return True
        if _unit_covers(post, appeal.lead_unit):
            return True
    unit_posts = [p for p in posts_of(user) if p.role in (R.HANDLER, R.UNIT_LEADER)]
    return bool(unit_posts) and any(
        _unit_covers(post, unit) for post in unit_posts for unit in _co_units(appeal)
    )


def can_act(user: User, action: Action, appeal: Appeal) -> bool:
    """Whether the user's role and scope allow ``action`` (the state is checked separately)."""
    center_roles = CENTER_ACTIONS.get(action, frozenset())
    for post in posts_of(user):
        if post.role in center_roles and _center_covers(post, appeal):
            return True
        if action in UNIT_ACTIONS and _unit_covers(post, appeal.lead_unit):
            return True
    return False


def can_intake(user: User, channel: str, territory: OrgUnit | None) -> bool:
    """Staff intake on a citizen's behalf: the channel suits the role, the place is in scope."""
    for post in posts_of(user):
        channels = INTAKE_CHANNELS.get(Role(post.role), frozenset())
        if channel not in channels:
            continue
        if _is_root(post):
            return True
        if territory is not None and territory.path.startswith(post.unit_path):
            return True
    return False


def center_scope(user: User) -> Q | None:
    """The appeals the user's center posts cover: ``None`` without such a post, ``Q()`` (no
    condition) for a post at the city root, else those whose territory or lead unit lies
    under a post's unit."""
    posts = [post for post in posts_of(user) if post.role in CENTER_VIEW_ROLES]
    if not posts:
        return None
    if any(_is_root(post) for post in posts):
        return Q()
    ids = unit_ids_under([post.unit_path for post in posts])
    return Q(territory_id__in=ids) | Q(lead_unit_id__in=ids)


def covers_city(center: Q | None) -> bool:
    """Whether a ``center_scope`` is the whole city (a post at the root: no condition)."""
    return center is not None and not center.children


def sees_whole_city(user: User) -> bool:
    return covers_city(center_scope(user))


def visible_to(user: User) -> Q:
    """The filter every staff read of appeals goes through (DESIGN.md invariant 3).

    Units are named by id (``unit_ids_under``), not joined by path, and a unit's share as
    co-handler is read from the small partial index of active co-assignments: the lead unit is
    ``Appeal.lead_unit`` itself (its active lead assignment always names the same unit), so
    the filter stays a per-row test on the appeal that any index can serve — see
    docs/scaling.md "Scopes".
    """
    center = center_scope(user)
    if covers_city(center):
        return Q()
    q = _taken_in(user)
    if center is not None:
        q |= center
    units: list[int] = []
    for post in posts_of(user):
        if post.role == R.HANDLER:
            units.append(post.unit_id)
        elif post.role == R.UNIT_LEADER:
            units += unit_ids_under([post.unit_path])
    if units:
        ids = sorted(set(units))
        q |= Q(lead_unit_id__in=ids) | _co_handled(ids)
    return q


# Up to this many co-handled appeals are named by id in the scope (a bitmap the planner can
# combine with the search index's); more are left to a subquery.
CO_IDS_INLINE = 5_000


def _taken_in(user: User) -> Q:
    """Appeals the user registered on a citizen's behalf, read first from the intake index and
    named by id like co-handling: an alternative with none drops out of the scope. Kept as a
    condition in the OR, it hid ``appeal_unit_status_id`` from the planner — a township
    handler's queue of appeals in progress (``taken in by me OR led by my unit``, then the
    status) read the city's 60,000 appeals in progress to keep 1,485 (68 ms at 10M appeals);
    without it, one index range (0.1 ms)."""
    if not user.pk:
        return Q(pk__in=[])
    mine = Appeal.objects.filter(intake_by=user.pk)
    ids = list(mine.values_list("pk", flat=True)[: CO_IDS_INLINE + 1])
    if len(ids) > CO_IDS_INLINE:
        return Q(intake_by=user.pk)
    return Q(pk__in=sorted(ids))


def _co_handled(unit_ids: list[int]) -> Q:
    """Appeals the units co-handle now (协办), read first from the partial index: as a list
    of ids the whole scope is an OR of index conditions, which PostgreSQL can AND with the
    search's bigram index — a village searching a word common elsewhere read every match of
    the city (178 ms at 1M appeals, growing with the city)."""
    co = AppealAssignment.objects.filter(unit_id__in=unit_ids, active=True, role=AssignmentRole.CO)
    ids = list(co.values_list("appeal_id", flat=True)[: CO_IDS_INLINE + 1])
    if len(ids) > CO_IDS_INLINE:
        return Q(pk__in=co.values("appeal_id"))
    return Q(pk__in=sorted(set(ids)))


def may_see_unmasked(user: User, appeal: Appeal) -> bool:
    """Revealing a citizen's contact is allowed (and audited) for these roles only."""
    return can_act(user, Action.REVEAL, appeal)
