import json

from django.contrib.auth import get_user_model
from django.test import Client, TestCase, override_settings


class ApiTests(TestCase):
    """Runs against the real TimescaleDB service in CI (the readings table is a hypertable)."""

    def setUp(self):
        self.writer = get_user_model().objects.create_user("writer", password="a-long-test-password-1")

    def post(self, value, client=None):
        return (client or self.client).post("/api/readings/", json.dumps({"value": value}), content_type="application/json")

    def test_health_reports_timescaledb(self):
        response = self.client.get("/api/health/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ok")

    def test_write_then_read(self):
        self.client.force_login(self.writer)
        self.assertEqual(self.post(1.5).status_code, 201)
        self.assertEqual(self.client.get("/api/readings/").json()["count"], 1)

    def test_bad_value_is_refused(self):
        self.client.force_login(self.writer)
        self.assertEqual(self.post("x").status_code, 400)

    def test_anonymous_writes_are_refused(self):
        self.assertEqual(self.post(1.5).status_code, 401)
        self.assertEqual(self.post(1.5, Client(enforce_csrf_checks=True)).status_code, 403)  # no CSRF token
        self.assertEqual(self.client.get("/api/readings/").json()["count"], 0)

    @override_settings(CELERY_BROKER_URL="redis://broker.invalid:6379/0")
    def test_a_write_enqueues_the_summary_once_committed(self):
        self.client.force_login(self.writer)
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.assertEqual(self.post(2.5).status_code, 201)
        self.assertEqual(len(callbacks), 1)

    def test_tasks_summarize_and_count_attempts(self):
        from demo import tasks

        self.client.force_login(self.writer)
        self.post(1.0)
        self.post(3.0)
        tasks.summarize()
        tasks.slow("t", 0)
        runs = self.client.get("/api/tasks/").json()["tasks"]
        self.assertEqual(runs["summary"]["result"], {"count": 2, "mean": 2.0})
        self.assertEqual(runs["t"]["attempts"], 1)
