"""The spot-check schedule starts SPOT_CHECK_RUNS runs side by side (validation.tasks.start_spot_checks),
the first of which samples the origins: the separate origin-history schedule, which held a worker
50 s of every minute, goes."""

from django.db import migrations

NAME = "validation: spot-checks"


SAMPLES = "validation: origin history"


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=NAME).update(func="validation.tasks.start_spot_checks")
    Schedule.objects.filter(name=SAMPLES).delete()


def backwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=NAME).update(func="validation.tasks.run_spot_checks")
    Schedule.objects.update_or_create(
        name=SAMPLES,
        defaults={"func": "validation.tasks.sample_origins", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


class Migration(migrations.Migration):
    dependencies = [("validation", "0006_check_deadlines")]

    operations = [migrations.RunPython(forwards, backwards)]
