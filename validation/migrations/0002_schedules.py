"""django-q2 schedules for validation; idempotent (keyed by name), removed on reverse."""

from django.db import migrations

SCHEDULES = [
    ("validation: spot-checks", "validation.tasks.run_spot_checks", 1),
    ("validation: origin history", "validation.tasks.sample_origins", 1),
    ("validation: fraud signals", "validation.tasks.detect_fraud", 10),
]


def add(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1}
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("validation", "0001_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [migrations.RunPython(add, remove)]
