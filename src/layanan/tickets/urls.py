from django.urls import path

from layanan.tickets import requester_views

app_name = "tickets"

# "new-link/" comes first: a token never reads like it, but the pattern would match.
urlpatterns = [
    path("new-link/", requester_views.new_link, name="requester_new_link"),
    path(
        "new-link/sent/",
        requester_views.new_link_sent,
        name="requester_new_link_sent",
    ),
    path("<str:token>/", requester_views.page, name="requester_page"),
    path("<str:token>/reply/", requester_views.reply, name="requester_reply"),
    path("<str:token>/rating/", requester_views.rating, name="requester_rating"),
    path(
        "<str:token>/files/<int:attachment_id>/",
        requester_views.attachment,
        name="requester_file",
    ),
]
