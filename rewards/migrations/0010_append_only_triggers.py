"""On PostgreSQL the ledger and the audit log refuse UPDATE and DELETE in the database itself.

AppendOnlyModel refuses them in the ORM only; these triggers also stop raw SQL, a psql session or a
future bulk path. Row-level (a statement that touches no row is not refused) and BEFORE UPDATE OR
DELETE only: TRUNCATE, which test runners use to empty tables between tests, is left alone.
Other databases (the SQLite default for local runs) keep the ORM's refusal alone.
"""

from django.db import migrations

TABLES = ("rewards_ledgerentry", "rewards_auditentry")
FUNCTION = "rewards_refuse_change"

INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% on %: rows are append-only (add a correcting entry instead)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END;
    $$
    """,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        for table in TABLES
    ),
]
REMOVE = [
    *(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in TABLES),
    f"DROP FUNCTION IF EXISTS {FUNCTION}()",
]


def run(statements):
    def go(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)  # no parameters: the % are plpgsql's

    return go


class Migration(migrations.Migration):
    dependencies = [("rewards", "0009_four_eyes")]

    operations = [migrations.RunPython(run(INSTALL), run(REMOVE))]
