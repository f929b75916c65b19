"""Who is told of a safety alert, and when the next people are told: ``[safety.notify]``.

Per alert level the protocol names the roles told at once and an escalation chain: the roles
told when the alert is still not acknowledged so many minutes after it was raised. The people
told are the active users holding a role at the participant's site or study-wide. An alert that
reaches nobody (no one with an address, every attempt refused) is itself an alert
(:data:`UNDELIVERABLE_RULE`), told to ``undeliverable_roles``.

Examples
--------
>>> notify = Notify.model_validate({
...     "levels": [{"level": "immediate", "roles": ["investigator"],
...                 "escalate": [{"after_min": 15, "roles": ["monitor"]}]}],
... })
>>> [(s.after_min, [str(r) for r in s.roles]) for s in notify.steps("immediate")]
[(0.0, ['investigator']), (15.0, ['monitor'])]
>>> notify.steps("review")
()
"""

from __future__ import annotations

from pydantic import Field, model_validator

from remit.protocol._base import _Model
from remit.protocol.roles import Role
from remit.protocol.vocab import Level

#: ``rule_id`` of the alert raised when an alert could not be delivered to anyone.
UNDELIVERABLE_RULE = "notify:undeliverable"


class NotifyStep(_Model):
    """One step of a level's chain: the roles told ``after_min`` minutes after the alert was
    raised if it is still not acknowledged (0 for the first step)."""

    after_min: float = Field(ge=0)
    roles: tuple[Role, ...] = Field(min_length=1)


class Escalation(_Model):
    """A later step of the chain, as written in the protocol file."""

    after_min: float = Field(gt=0)
    roles: tuple[Role, ...] = Field(min_length=1)


class NotifyLevel(_Model):
    """Who is told of alerts of one level: ``roles`` at once, then each ``escalate`` step."""

    level: Level
    roles: tuple[Role, ...] = Field(min_length=1)
    escalate: tuple[Escalation, ...] = ()

    @model_validator(mode="after")
    def _later_and_later(self) -> NotifyLevel:
        times = [e.after_min for e in self.escalate]
        if times != sorted(set(times)):
            raise ValueError(
                f"the escalation steps of level {self.level!r} must come later and later "
                f"(after_min given {times})"
            )
        return self


class Notify(_Model):
    """The notification table of the protocol (``[safety.notify]``).

    ``attempts`` is how many times one person is tried before the step counts as failed for
    them; ``undeliverable_roles`` are told when an alert could not be delivered to anyone.
    A level not listed is not sent (its alerts are shown in Remit only).
    """

    levels: tuple[NotifyLevel, ...] = ()
    attempts: int = Field(default=3, ge=1, le=20)
    undeliverable_roles: tuple[Role, ...] = Field(default=(Role.ADMIN,), min_length=1)
    assumption: str | None = None

    @model_validator(mode="after")
    def _each_level_once(self) -> Notify:
        seen = [n.level for n in self.levels]
        twice = sorted({level for level in seen if seen.count(level) > 1})
        if twice:
            raise ValueError(f"level(s) {', '.join(twice)} listed more than once")
        return self

    def steps(self, level: str) -> tuple[NotifyStep, ...]:
        """The chain of ``level``: step 0 (at once) and each escalation; empty if not listed."""
        for entry in self.levels:
            if entry.level == level:
                first = NotifyStep(after_min=0, roles=entry.roles)
                later = (NotifyStep(after_min=e.after_min, roles=e.roles) for e in entry.escalate)
                return (first, *later)
        return ()
