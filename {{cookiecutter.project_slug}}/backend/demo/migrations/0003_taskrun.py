from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("demo", "0002_hypertable")]

    operations = [
        migrations.CreateModel(
            name="TaskRun",
            fields=[
                ("key", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("kind", models.CharField(max_length=30)),
                ("attempts", models.IntegerField(default=0)),
                ("finished", models.DateTimeField(null=True)),
                ("result", models.JSONField(default=dict)),
            ],
        ),
    ]
