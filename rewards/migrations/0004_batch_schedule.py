"""django-q2 schedule that gathers approved payouts into PayPal batches daily; removed on reverse."""

from django.db import migrations

NAME = "rewards: assemble payout batches"


def add(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "rewards.tasks.assemble_payout_batches", "schedule_type": "D", "repeats": -1},
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("rewards", "0003_payouts")]

    operations = [migrations.RunPython(add, remove)]
