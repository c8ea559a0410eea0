from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("api/health/", views.health),
    path("api/readings/", views.readings),
    path("api/tasks/", views.tasks),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),  # /metrics, scraped by Prometheus
]
