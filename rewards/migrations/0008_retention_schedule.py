"""django-q2 schedule: hourly retention (rewards.tasks.prune_expired); idempotent (keyed by name)."""

from django.db import migrations

NAME = "rewards: prune expired rows"


def add(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "rewards.tasks.prune_expired", "schedule_type": "I", "minutes": 60, "repeats": -1},
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0007_vesting_schedule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add, remove)]
