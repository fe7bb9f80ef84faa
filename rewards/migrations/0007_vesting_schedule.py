"""django-q2 schedule: vest credits whose hours are verified; idempotent (keyed by name)."""

from django.db import migrations

NAME = "rewards: vest credits"


def add(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "rewards.tasks.vest_due_credits", "schedule_type": "I", "minutes": 5, "repeats": -1},
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0006_vesting_and_clawbacks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add, remove)]
