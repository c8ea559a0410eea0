"""Make the readings table a TimescaleDB hypertable: proves the extension, does not assume it."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("demo", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=[
                "CREATE EXTENSION IF NOT EXISTS timescaledb",
                "SELECT create_hypertable('demo_reading', 'time', if_not_exists => TRUE, migrate_data => TRUE)",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
