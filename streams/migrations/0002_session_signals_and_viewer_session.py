import django.db.models.deletion
from django.db import migrations, models


def forget_open_viewers(apps, schema_editor):
    # Viewer rows are transient connection state; rows made before viewers belonged to a
    # session cannot be attributed to one, and the origin re-reports players as they come.
    apps.get_model("streams", "StreamViewer").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("streams", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="streamsession",
            name="last_signal_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(forget_open_viewers, migrations.RunPython.noop),
        migrations.AddField(
            model_name="streamviewer",
            name="session",
            field=models.ForeignKey(
                default=None,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="viewers",
                to="streams.streamsession",
            ),
            preserve_default=False,
        ),
    ]
