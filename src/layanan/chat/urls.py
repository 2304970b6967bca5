from django.urls import path

from layanan.chat import views

app_name = "chat"

urlpatterns = [
    path("widget.js", views.widget_loader, name="widget"),
    path("widget/panel/", views.panel, name="panel"),
    path("chat/", views.standalone, name="standalone"),
    path("api/chat/services/", views.services, name="services"),
    path("api/chat/start/", views.start, name="start"),
    path("api/chat/offline/", views.offline, name="offline"),
    path("api/chat/upload/", views.upload, name="upload"),
    path("api/chat/end/", views.end, name="end"),
    path(
        "api/chat/attachments/<int:attachment_id>/",
        views.attachment,
        name="attachment",
    ),
]
