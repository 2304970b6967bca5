from django.contrib.auth import views as auth_views
from django.urls import path

from layanan.console import chat_views, outbox_views, team_views, ticket_views

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
    path("", chat_views.home, name="home"),
    path("chats/", chat_views.chats, name="chats"),
    path("chats/<uuid:public_id>/", chat_views.chat, name="chat"),
    path(
        "chats/<uuid:public_id>/transfer/",
        chat_views.chat_transfer,
        name="chat_transfer",
    ),
    path("chats/<uuid:public_id>/end/", chat_views.chat_end, name="chat_end"),
    path("chats/<uuid:public_id>/ticket/", chat_views.chat_ticket, name="chat_ticket"),
    path(
        "chats/<uuid:public_id>/transcript/",
        chat_views.chat_transcript,
        name="chat_transcript",
    ),
    path("chats/<uuid:public_id>/upload/", chat_views.chat_upload, name="chat_upload"),
    path("attachments/<int:attachment_id>/", chat_views.attachment, name="attachment"),
    path("tickets/", ticket_views.tickets, name="tickets"),
    path("tickets/bulk/", ticket_views.tickets_bulk, name="tickets_bulk"),
    path("tickets/<str:number>/", ticket_views.ticket, name="ticket"),
    path("tickets/<str:number>/reply/", ticket_views.ticket_reply, name="ticket_reply"),
    path("tickets/<str:number>/note/", ticket_views.ticket_note, name="ticket_note"),
    path(
        "tickets/<str:number>/status/", ticket_views.ticket_status, name="ticket_status"
    ),
    path("tickets/<str:number>/claim/", ticket_views.ticket_claim, name="ticket_claim"),
    path(
        "tickets/<str:number>/assign/", ticket_views.ticket_assign, name="ticket_assign"
    ),
    path(
        "tickets/<str:number>/transfer/",
        ticket_views.ticket_transfer,
        name="ticket_transfer",
    ),
    path(
        "tickets/<str:number>/priority/",
        ticket_views.ticket_priority,
        name="ticket_priority",
    ),
    path(
        "tickets/<str:number>/tags/", ticket_views.ticket_tag_add, name="ticket_tag_add"
    ),
    path(
        "tickets/<str:number>/tags/remove/",
        ticket_views.ticket_tag_remove,
        name="ticket_tag_remove",
    ),
    path(
        "tickets/<str:number>/canned/", ticket_views.ticket_canned, name="ticket_canned"
    ),
    path("tickets/<str:number>/merge/", ticket_views.ticket_merge, name="ticket_merge"),
    path(
        "tickets/<str:number>/attachments/<int:attachment_id>/",
        ticket_views.ticket_attachment,
        name="ticket_attachment",
    ),
    path("teams/", team_views.teams, name="teams"),
    path("teams/<int:team_id>/", team_views.team, name="team"),
    path("email/", outbox_views.outbox, name="outbox"),
    path("email/<int:email_id>/", outbox_views.outbox_message, name="outbox_message"),
    path("email/<int:email_id>/html/", outbox_views.outbox_html, name="outbox_html"),
]
