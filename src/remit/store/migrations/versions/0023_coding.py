"""Medical coding: loaded MedDRA / WHODrug dictionary versions, their terms, and the codes of
adverse events and concomitant medications.

Revision ID: 0023
Revises: 0024
Create Date: 2026-12-04 14:30:00.000000

``coding_dictionary`` (one row per dictionary version loaded; audited), ``meddra_term`` (a
lowest level term with its primary path to the SOC) and ``whodrug_term`` (a drug name with its
preferred name and ATC class) of :mod:`remit.store.coding` (reference data, not audited field
by field), and ``coded_term`` (the code of one AE or medication; audited, a change needs a
reason). Existing records get no code: they are in the manual coding queue until
``remit coding autocode`` or a data manager codes them.

Downgrade drops the four tables (the codes assigned are lost; their audit rows stay).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="RESTRICT",
    )


def _name(column: str, length: int = 200) -> sa.Column[object]:
    return sa.Column(column, sa.String(length=length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "coding_dictionary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=True),
        sa.Column("files_sha256", sa.String(length=64), nullable=False),
        sa.Column("term_count", sa.Integer(), nullable=False),
        sa.Column("loaded_by", sa.Integer(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('meddra', 'whodrug')", name=op.f("ck_coding_dictionary_kind_known")
        ),
        _fk("loaded_by", "coding_dictionary", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coding_dictionary")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_coding_dictionary_kind_version")),
    )
    op.create_table(
        "meddra_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dictionary_id", sa.Integer(), nullable=False),
        sa.Column("llt_code", sa.Integer(), nullable=False),
        _name("llt_name"),
        _name("llt_key"),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("pt_code", sa.Integer(), nullable=False),
        _name("pt_name"),
        sa.Column("hlt_code", sa.Integer(), nullable=False),
        _name("hlt_name"),
        sa.Column("hlgt_code", sa.Integer(), nullable=False),
        _name("hlgt_name"),
        sa.Column("soc_code", sa.Integer(), nullable=False),
        _name("soc_name"),
        sa.Column("soc_abbrev", sa.String(length=16), nullable=True),
        _fk("dictionary_id", "meddra_term", "coding_dictionary"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meddra_term")),
        sa.UniqueConstraint(
            "dictionary_id", "llt_code", name=op.f("uq_meddra_term_dictionary_id_llt_code")
        ),
    )
    op.create_index(
        "ix_meddra_term_dictionary_key", "meddra_term", ["dictionary_id", "llt_key"], unique=False
    )
    op.create_table(
        "whodrug_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dictionary_id", sa.Integer(), nullable=False),
        _name("drug_code", 11),
        _name("drug_name", 1500),
        _name("name_key", 1500),
        sa.Column("preferred", sa.Boolean(), nullable=False),
        _name("preferred_code", 11),
        _name("preferred_name", 1500),
        sa.Column("atc_code", sa.String(length=7), nullable=True),
        sa.Column("atc_text", sa.String(length=200), nullable=True),
        _fk("dictionary_id", "whodrug_term", "coding_dictionary"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whodrug_term")),
        sa.UniqueConstraint(
            "dictionary_id", "drug_code", name=op.f("uq_whodrug_term_dictionary_id_drug_code")
        ),
    )
    op.create_index(
        "ix_whodrug_term_dictionary_key",
        "whodrug_term",
        ["dictionary_id", "name_key"],
        unique=False,
    )
    op.create_table(
        "coded_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("record_table", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("dictionary_id", sa.Integer(), nullable=False),
        _name("verbatim"),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        _name("decod", 1500),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("coded_by", sa.Integer(), nullable=True),
        sa.Column("coded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "record_table IN ('adverse_event', 'concomitant_medication')",
            name=op.f("ck_coded_term_table_known"),
        ),
        sa.CheckConstraint(
            "method IN ('exact', 'synonym', 'manual')", name=op.f("ck_coded_term_method_known")
        ),
        _fk("participant_id", "coded_term", "participant"),
        _fk("dictionary_id", "coded_term", "coding_dictionary"),
        _fk("coded_by", "coded_term", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coded_term")),
        sa.UniqueConstraint(
            "record_table", "record_id", name=op.f("uq_coded_term_record_table_record_id")
        ),
    )
    op.create_index(
        op.f("ix_coded_term_participant_id"), "coded_term", ["participant_id"], unique=False
    )
    op.create_index(
        op.f("ix_coded_term_dictionary_id"), "coded_term", ["dictionary_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_coded_term_dictionary_id"), table_name="coded_term")
    op.drop_index(op.f("ix_coded_term_participant_id"), table_name="coded_term")
    op.drop_table("coded_term")
    op.drop_index("ix_whodrug_term_dictionary_key", table_name="whodrug_term")
    op.drop_table("whodrug_term")
    op.drop_index("ix_meddra_term_dictionary_key", table_name="meddra_term")
    op.drop_table("meddra_term")
    op.drop_table("coding_dictionary")
