from django.contrib import admin
from django.urls import path

from layanan import views

urlpatterns = [
    path("", views.portal, name="portal"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
