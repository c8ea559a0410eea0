from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Reading",
            fields=[
                ("time", models.DateTimeField(primary_key=True, serialize=False)),
                ("value", models.FloatField()),
            ],
            options={"ordering": ["-time"]},
        ),
    ]
