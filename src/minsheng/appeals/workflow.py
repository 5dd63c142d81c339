"""The appeal state machine as data: which action may move an appeal from which status to which.

Services consult ``target_status`` before they change anything; a move not in this table raises
``illegal_transition``. The table is the single source for "what can happen next".
"""

from __future__ import annotations

from .choices import Action, Status

S = Status

# action → (statuses it may start from, status it leaves the appeal in; None = unchanged)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.DISPATCH: (frozenset({S.RECEIVED}), S.DISPATCHED),
    Action.REDISPATCH: (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.DISPATCHED),
    Action.ACCEPT: (frozenset({S.DISPATCHED}), S.IN_PROGRESS),
    Action.RETURN: (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.RETURNED),
    Action.APPROVE_RETURN: (frozenset({S.RETURNED}), S.RECEIVED),
    Action.REJECT_RETURN: (frozenset({S.RETURNED}), S.DISPATCHED),
    Action.TRANSFER: (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.DISPATCHED),
    Action.REQUEST_EXTENSION: (frozenset({S.IN_PROGRESS}), None),
    Action.APPROVE_EXTENSION: (frozenset({S.IN_PROGRESS, S.SUSPENDED}), None),
    Action.REFUSE_EXTENSION: (frozenset({S.IN_PROGRESS, S.SUSPENDED}), None),
    Action.SUSPEND: (frozenset({S.IN_PROGRESS}), S.SUSPENDED),
    Action.RESUME: (frozenset({S.SUSPENDED}), S.IN_PROGRESS),
    Action.REPLY: (frozenset({S.IN_PROGRESS}), S.REPLIED),
    Action.APPROVE_REPLY: (frozenset({S.REPLIED}), S.CLOSED),
    Action.REWORK: (frozenset({S.REPLIED}), S.IN_PROGRESS),
    # Rating follows the close (回访); an unsatisfied rating may reopen the appeal, by policy.
    Action.RATE: (frozenset({S.CLOSED}), None),
    Action.REOPEN: (frozenset({S.CLOSED}), S.IN_PROGRESS),
    Action.DIRECT_CLOSE: (frozenset({S.RECEIVED}), S.CLOSED),
    Action.INVALIDATE: (frozenset({S.RECEIVED, S.RETURNED}), S.INVALID),
    Action.MERGE: (frozenset({S.RECEIVED, S.DISPATCHED, S.RETURNED}), S.MERGED),
    Action.SUPPLEMENT: (
        frozenset({S.RECEIVED, S.DISPATCHED, S.RETURNED, S.IN_PROGRESS, S.SUSPENDED, S.REPLIED}),
        None,
    ),
    # Supervision (催办/督办) nudges whoever holds the appeal; it never moves the status. A
    # response may come after the appeal moved on (replied, even closed).
    Action.REMIND: (frozenset({S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED}), None),
    Action.SUPERVISE: (frozenset({S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED}), None),
    Action.ESCALATE: (frozenset({S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED, S.REPLIED}), None),
    Action.RESPOND_SUPERVISION: (
        frozenset({S.DISPATCHED, S.RETURNED, S.IN_PROGRESS, S.SUSPENDED, S.REPLIED, S.CLOSED}),
        None,
    ),
}

# Events a citizen sees on the public timeline; the rest are internal (returns, reviews …).
PUBLIC_ACTIONS = frozenset(
    {
        Action.SUBMIT,
        Action.DISPATCH,
        Action.REDISPATCH,
        Action.ACCEPT,
        Action.TRANSFER,
        Action.APPROVE_EXTENSION,
        Action.SUSPEND,
        Action.RESUME,
        Action.APPROVE_REPLY,
        Action.RATE,
        Action.REOPEN,
        Action.DIRECT_CLOSE,
        Action.INVALIDATE,
        Action.MERGE,
        Action.SUPPLEMENT,
    }
)


def can_start(action: Action, status: str) -> bool:
    rule = TRANSITIONS.get(action)
    return rule is not None and status in rule[0]


def target_status(action: Action, status: str) -> str:
    """The status after ``action``; the caller has checked ``can_start``."""
    resulting = TRANSITIONS[action][1]
    return status if resulting is None else resulting
