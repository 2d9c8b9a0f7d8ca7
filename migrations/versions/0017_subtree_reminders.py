"""classrooms: reminders sent from an org subtree's lagging list (class_id nullable, org_unit_id, project_id)

Revision ID: 0017_subtree_reminders
Revises: 0016_project_day_credits

Downgrading deletes the reminders that came from a subtree (they have no class to keep).
"""
from alembic import op
import sqlalchemy as sa

revision = "0017_subtree_reminders"
down_revision = "0016_project_day_credits"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("class_reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.alter_column("class_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f("fk_class_reminders_org_unit_id_org_units"), "org_units",
                                    ["org_unit_id"], ["id"], ondelete="CASCADE")
        batch_op.create_foreign_key(batch_op.f("fk_class_reminders_project_id_projects"), "projects",
                                    ["project_id"], ["id"], ondelete="CASCADE")
    # the reminders sent so far came from a class: their project is the class's
    op.execute("UPDATE class_reminders SET project_id ="
               " (SELECT classes.project_id FROM classes WHERE classes.id = class_reminders.class_id)")


def downgrade():
    op.execute("DELETE FROM class_reminders WHERE class_id IS NULL")
    with op.batch_alter_table("class_reminders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_class_reminders_project_id_projects"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_class_reminders_org_unit_id_org_units"), type_="foreignkey")
        batch_op.alter_column("class_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("project_id")
        batch_op.drop_column("org_unit_id")
