"""The audit log: every moderation action is recorded here, in the same
transaction as the action itself."""

from moderation.models import ModerationAction


def record(
    kind: str,
    *,
    actor,
    community=None,
    member=None,
    target_kind: str = "",
    target_id: int | None = None,
    topic=None,
    rule: str = "",
    reason: str = "",
    until=None,
    detail: str = "",
    public: bool = False,
) -> ModerationAction:
    """One row of the audit log. `public` rows (removals) also show in the
    community's public log, without the actor's name."""
    return ModerationAction.objects.create(
        kind=kind,
        actor=actor if actor is not None and actor.pk else None,
        community=community,
        member=member,
        target_kind=target_kind,
        target_id=target_id,
        topic=topic,
        rule=rule,
        reason=reason,
        until=until,
        detail=detail[:200],
        public=public,
    )
