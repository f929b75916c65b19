"""The concealed randomisation list, its slots and the allocations; the unblinded statistician.

Revision ID: 0021
Revises: 0022
Create Date: 2026-12-04 13:45:00.000000

``randomisation_list`` (the specification, the seed sealed with the allocation key, the key's
fingerprint), ``randomisation_slot`` (stratum, sequence, kit in the clear; arm and block sealed)
and ``allocation`` (a participant's slot and kit) of :mod:`remit.store.allocation`. All three
are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL, with
``remit_refuse_change`` of revision 0001, firing ALWAYS as revision 0017 made the others), so an
allocation is never changed or re-drawn. ``user_role.role`` takes the new role
``unblinded_statistician``.

Downgrade refuses while a list exists (the allocations would be lost); otherwise it removes
the grants of the new role (the users stay, with their other roles), drops the tables and
restores the old role words.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remit.errors import StoreError

revision: str = "0021"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("randomisation_list", "randomisation_slot", "allocation")
ROLE_CONSTRAINT = "ck_user_role_role"
#: The role words before and from this revision (written out: a migration must not change
#: when the vocabulary changes later).
OLD_ROLES = (
    "investigator",
    "therapist",
    "independent_rater",
    "monitor",
    "statistician",
    "data_manager",
    "admin",
)
NEW_ROLES = (*OLD_ROLES[:5], "unblinded_statistician", *OLD_ROLES[5:])


def _role_type(words: Sequence[str]) -> sa.Enum:
    return sa.Enum(*words, name="role", native_enum=False, create_constraint=True, length=32)


def _swap_roles(old: Sequence[str], new: Sequence[str]) -> None:
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("user_role", schema=None, recreate="always") as batch_op:
            batch_op.alter_column(
                "role",
                existing_type=_role_type(old),
                type_=_role_type(new),
                existing_nullable=False,
            )
    else:
        op.drop_constraint(op.f(ROLE_CONSTRAINT), "user_role", type_="check")
        check = "role IN (" + ", ".join(f"'{w}'" for w in new) + ")"
        op.create_check_constraint(op.f(ROLE_CONSTRAINT), "user_role", check)


def _create_triggers(table: str) -> None:
    if op.get_context().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )
        return
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION remit_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION remit_refuse_change()"
    )
    for trigger in (f"{table}_append_only", f"{table}_no_truncate"):
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")


def _drop_triggers(table: str) -> None:
    if op.get_context().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


def upgrade() -> None:
    _swap_roles(OLD_ROLES, NEW_ROLES)
    op.create_table(
        "randomisation_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("seed_sealed", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("n_slots", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_randomisation_list_protocol_version_id_protocol_version"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_randomisation_list_created_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_randomisation_list")),
    )
    op.create_table(
        "randomisation_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kit", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["randomisation_list.id"],
            name=op.f("fk_randomisation_slot_list_id_randomisation_list"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_randomisation_slot")),
        sa.UniqueConstraint("kit", name=op.f("uq_randomisation_slot_kit")),
        sa.UniqueConstraint(
            "list_id",
            "stratum",
            "sequence",
            name=op.f("uq_randomisation_slot_list_id_stratum_sequence"),
        ),
    )
    op.create_index(
        op.f("ix_randomisation_slot_list_id"), "randomisation_slot", ["list_id"], unique=False
    )
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=200), nullable=False),
        sa.Column("kit", sa.Integer(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allocated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_allocation_participant_id_participant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["randomisation_slot.id"],
            name=op.f("fk_allocation_slot_id_randomisation_slot"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["allocated_by"],
            ["user_account.id"],
            name=op.f("fk_allocation_allocated_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation")),
        sa.UniqueConstraint("participant_id", name=op.f("uq_allocation_participant_id")),
        sa.UniqueConstraint("slot_id", name=op.f("uq_allocation_slot_id")),
    )
    for table in TABLES:
        _create_triggers(table)


def downgrade() -> None:
    bind = op.get_bind()
    lists = bind.scalar(sa.text("SELECT count(*) FROM randomisation_list"))
    if lists:
        raise StoreError(
            "a randomisation list is stored; revision 0019 has no place for it",
            hint="keep the database at 0021 (downgrading would lose every allocation)",
        )
    # revision 0019 has no such role: its grants go (the users stay, with their other roles)
    op.execute("DELETE FROM user_role WHERE role = 'unblinded_statistician'")
    for table in reversed(TABLES):
        _drop_triggers(table)
    op.drop_table("allocation")
    op.drop_index(op.f("ix_randomisation_slot_list_id"), table_name="randomisation_slot")
    op.drop_table("randomisation_slot")
    op.drop_table("randomisation_list")
    _swap_roles(NEW_ROLES, OLD_ROLES)
