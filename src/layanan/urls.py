from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from layanan import views

urlpatterns = [
    path("", views.portal, name="portal"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("console/", include("layanan.console.urls")),
    path("dashboard/", include("layanan.dashboard.urls")),
    path("t/", include("layanan.tickets.urls")),
    path("", include("layanan.chat.urls")),
]
