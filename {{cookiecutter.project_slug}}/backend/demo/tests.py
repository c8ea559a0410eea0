import json

from django.test import TestCase


class ApiTests(TestCase):
    """Runs against the real TimescaleDB service in CI (the readings table is a hypertable)."""

    def test_health_reports_timescaledb(self):
        response = self.client.get("/api/health/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ok")

    def test_write_then_read(self):
        created = self.client.post("/api/readings/", json.dumps({"value": 1.5}), content_type="application/json")
        self.assertEqual(created.status_code, 201)
        self.assertEqual(self.client.get("/api/readings/").json()["count"], 1)

    def test_bad_value_is_refused(self):
        response = self.client.post("/api/readings/", json.dumps({"value": "x"}), content_type="application/json")
        self.assertEqual(response.status_code, 400)
