from django.contrib.auth import views as auth_views
from django.urls import path

from layanan.console import views

app_name = "console"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="console/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("chats/<uuid:public_id>/", views.chat, name="chat"),
    path("chats/<uuid:public_id>/end/", views.chat_end, name="chat_end"),
    path("chats/<uuid:public_id>/ticket/", views.chat_ticket, name="chat_ticket"),
    path(
        "chats/<uuid:public_id>/transcript/",
        views.chat_transcript,
        name="chat_transcript",
    ),
    path("chats/<uuid:public_id>/upload/", views.chat_upload, name="chat_upload"),
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/<str:number>/", views.ticket, name="ticket"),
    path("tickets/<str:number>/reply/", views.ticket_reply, name="ticket_reply"),
    path("tickets/<str:number>/note/", views.ticket_note, name="ticket_note"),
    path("tickets/<str:number>/status/", views.ticket_status, name="ticket_status"),
    path("tickets/<str:number>/claim/", views.ticket_claim, name="ticket_claim"),
    path("tickets/<str:number>/assign/", views.ticket_assign, name="ticket_assign"),
    path(
        "tickets/<str:number>/transfer/",
        views.ticket_transfer,
        name="ticket_transfer",
    ),
    path(
        "tickets/<str:number>/priority/",
        views.ticket_priority,
        name="ticket_priority",
    ),
    path(
        "tickets/<str:number>/attachments/<int:attachment_id>/",
        views.ticket_attachment,
        name="ticket_attachment",
    ),
    path("email/", views.outbox, name="outbox"),
    path("email/<int:email_id>/", views.outbox_message, name="outbox_message"),
    path("email/<int:email_id>/html/", views.outbox_html, name="outbox_html"),
]
