"""The requester page under ``/t/<token>/``: a ticket's public thread, replies,
files and rating, reached through the personal link in the ticket's mail.

The token in the path is the only credential, so every response carries
``Referrer-Policy: no-referrer`` (no link or file on the page passes it on) and
``Cache-Control: no-store``. A wrong, revoked or expired token gets the same
404 page, which offers to email a new link. Forms post with Django's CSRF
token and redirect after success. A ``?lang=`` choice is kept across them.
"""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from layanan.access import NotFound
from layanan.chat.models import Attachment
from layanan.chat.views import file_response
from layanan.middleware import SUPPORTED_LANGUAGES
from layanan.tickets import links
from layanan.tickets.models import EntryKind, RequesterLink, TicketEntry

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]
# The chat's allowed extensions, for the browser's file picker. The server checks
# each file again.
ACCEPTED_FILES = ".pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.jpg,.jpeg,.png,.txt"
MAX_NUMBER_LENGTH = 32
MAX_EMAIL_LENGTH = 254
NOTICES = {"reply", "follow_up", "rating"}


def requester_view(view: View) -> View:
    """Guard a requester page: CSRF, and headers that keep its URL private.

    Django logs every 4xx response with its path, which contains the token, so
    this logs those responses without it and marks them as logged.
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and request.META.get("HTTP_ORIGIN") == "null":
            # Under "Referrer-Policy: no-referrer" browsers send "Origin: null"
            # with a form posted from the page itself, and no Referer, so
            # Django's origin check could never pass. The CSRF token is still
            # checked. A sandboxed frame on another site sends "null" too, but
            # it has neither the CSRF cookie's value nor the link's token.
            request.META["HTTP_ORIGIN"] = settings.BASE_ORIGIN
        response = protected(request, *args, **kwargs)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        if response.status_code >= 400:
            logger.warning(
                "requester page request rejected status=%s view=%s",
                response.status_code,
                view.__name__,
            )
            # NOTE: a private flag of django.utils.log.log_response (Django 5.2).
            # A CSRF failure or a server error is still logged with its path,
            # because Django logs it before this line runs.
            response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    return wrapped


def chosen_language(request: HttpRequest) -> str:
    """Return the ``?lang=`` of the request when it names a supported language."""
    code = request.GET.get("lang", "")[:2].lower()
    return code if code in SUPPORTED_LANGUAGES else ""


def with_query(request: HttpRequest, url: str, **values: str) -> str:
    """Return ``url`` with the request's language choice and ``values`` appended."""
    query = {"lang": chosen_language(request), **values}
    encoded = urlencode({key: value for key, value in query.items() if value})
    return f"{url}?{encoded}" if encoded else url


def invalid_link_page(
    request: HttpRequest,
    *,
    status: int = 404,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """Render the page that offers a new link, after a bad token or a bad form."""
    context = {
        "invalid": status == 404,
        "typed": typed or {},
        "errors": errors or {},
        "action": with_query(request, reverse("tickets:requester_new_link")),
        "max_number_length": MAX_NUMBER_LENGTH,
        "max_email_length": MAX_EMAIL_LENGTH,
        "valid_days": links.LINK_DAYS_AFTER_CLOSE,
        # The language switch reloads the page with GET, which the POST-only
        # views reject.
        "language_action": request.path
        if request.method == "GET"
        else reverse("tickets:requester_new_link"),
    }
    return render(request, "tickets/requester/invalid.html", context, status=status)


def link_or_none(token: str) -> RequesterLink | None:
    try:
        return links.get_link_for_token(token)
    except NotFound:
        return None


# The ticket page


def entry_view(entry: TicketEntry, number: str, token: str) -> dict[str, Any]:
    """Return what the page shows of one public entry."""
    attachments = list(entry.attachments.all())
    # A reply's HTML still contains the quoted history that its text leaves out,
    # so such a reply is shown as text.
    show_html = bool(entry.body_html) and (
        entry.full_body.strip() in ("", entry.body.strip())
    )
    html = requester_html(entry.body_html, number, attachments, token)
    listed = [item for item in attachments if not (show_html and item.content_id)]
    return {
        "author_name": entry.author_name,
        "from_requester": entry.kind == EntryKind.PUBLIC and entry.author_id is None,
        "is_transcript": entry.kind == EntryKind.SYSTEM,
        "created": entry.created,
        # body_html was sanitised with nh3 when the mail arrived.
        "html": mark_safe(html) if show_html else "",  # noqa: S308
        "text": entry.body,
        "files": [
            {
                "url": reverse("tickets:requester_file", args=[token, item.pk]),
                "name": item.original_name,
                "size": item.size,
            }
            for item in listed
        ],
    }


def requester_html(
    html: str, number: str, attachments: list[Attachment], token: str
) -> str:
    """Point the inline images of an email's HTML at this page's file view.

    The inbound mail code points them at the console, which requesters cannot
    open.
    """
    for attachment in attachments:
        if not attachment.content_id:
            continue
        console_url = reverse("console:ticket_attachment", args=[number, attachment.pk])
        page_url = reverse("tickets:requester_file", args=[token, attachment.pk])
        html = html.replace(f"{console_url}?inline=1", f"{page_url}?inline=1")
    return html


def render_ticket_page(
    request: HttpRequest,
    link: RequesterLink,
    token: str,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """Render the ticket page. ``typed`` refills a form that was rejected."""
    ticket = link.ticket
    entries = links.public_entries(ticket).prefetch_related("attachments")
    notice = request.GET.get("done", "")
    context = {
        "ticket": ticket,
        "service_name": ticket.service.localized_name(),
        "status_label": ticket.get_status_display(),
        "entries": [entry_view(entry, ticket.number, token) for entry in entries],
        "may_rate": links.may_rate(ticket),
        "typed": typed or {},
        "errors": errors or {},
        "notice": notice if notice in NOTICES else "",
        "reply_action": with_query(
            request, reverse("tickets:requester_reply", args=[token])
        ),
        "rating_action": with_query(
            request, reverse("tickets:requester_rating", args=[token])
        ),
        "rating_choices": [
            (str(value), "★" * value) for value in reversed(links.RATING_VALUES)
        ],
        "selected_rating": (typed or {}).get("rating")
        or (str(ticket.rating) if ticket.rating else ""),
        "language_action": reverse("tickets:requester_page", args=[token]),
        "accepted_files": ACCEPTED_FILES,
        "max_message_length": links.MAX_MESSAGE_LENGTH,
        "max_comment_length": links.MAX_COMMENT_LENGTH,
        "upload_max_mb": settings.UPLOAD_MAX_MB,
    }
    return render(request, "tickets/requester/page.html", context, status=status)


@requester_view
@require_GET
def page(request: HttpRequest, token: str) -> HttpResponse:
    link = link_or_none(token)
    if link is None:
        return invalid_link_page(request)
    return render_ticket_page(request, link, token)


@requester_view
@require_POST
def reply(request: HttpRequest, token: str) -> HttpResponse:
    """Store the requester's message ("Send") and its file, if any."""
    link = link_or_none(token)
    if link is None:
        return invalid_link_page(request)
    body = request.POST.get("body", "")
    try:
        result = links.add_requester_reply(link, body, request.FILES.getlist("file"))
    except links.RequesterInputError as error:
        return render_ticket_page(
            request,
            link,
            token,
            status=400,
            typed={"body": body},
            errors={error.field: error.message},
        )
    done = "follow_up" if result.ticket.pk != link.ticket_id else "reply"
    return redirect(
        with_query(request, reverse("tickets:requester_page", args=[token]), done=done)
    )


@requester_view
@require_POST
def rating(request: HttpRequest, token: str) -> HttpResponse:
    """Store the requester's rating of a resolved or closed ticket, and its comment."""
    link = link_or_none(token)
    if link is None:
        return invalid_link_page(request)
    value = request.POST.get("rating", "")
    comment = request.POST.get("comment", "")
    try:
        links.rate_ticket(link, value, comment)
    except links.RequesterInputError as error:
        link.ticket.refresh_from_db()
        return render_ticket_page(
            request,
            link,
            token,
            status=400,
            typed={"rating": value, "comment": comment},
            errors={error.field: error.message},
        )
    return redirect(
        with_query(
            request, reverse("tickets:requester_page", args=[token]), done="rating"
        )
    )


@requester_view
@require_GET
def attachment(
    request: HttpRequest, token: str, attachment_id: int
) -> HttpResponseBase:
    """Serve a file of a public entry of the link's ticket, as the widget does."""
    link = link_or_none(token)
    if link is None:
        return invalid_link_page(request)
    try:
        found = links.get_attachment_for_link(link, attachment_id)
    except NotFound:
        return invalid_link_page(request)
    try:
        return file_response(found, inline=request.GET.get("inline") == "1")
    except (FileNotFoundError, ValueError):
        logger.error(
            "attachment file is missing attachment=%s link=%s", found.pk, link.pk
        )
        return invalid_link_page(request)


# A new link


def new_link_errors(number: str, email: str) -> dict[str, str]:
    """Return a message per field of the new-link form that is missing or invalid."""
    errors = {}
    if not number:
        errors["number"] = _(
            "“Ticket number” is empty. Type the number from the ticket's email, "
            "such as %(example)s."
        ) % {"example": f"{settings.TICKET_PREFIX}-2026-000123"}
    elif len(number) > MAX_NUMBER_LENGTH:
        errors["number"] = _(
            "“Ticket number” is longer than a ticket number can be. Type the number "
            "from the ticket's email, such as %(example)s."
        ) % {"example": f"{settings.TICKET_PREFIX}-2026-000123"}
    try:
        if len(email) > MAX_EMAIL_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        errors["email"] = _(
            "“Email” does not contain a valid email address. Type the address the "
            "ticket's mail went to, such as nama@example.com."
        )
    return errors


@requester_view
@require_http_methods(["GET", "POST"])
def new_link(request: HttpRequest) -> HttpResponse:
    """Show the new-link form, or email a link when the details match a ticket."""
    if request.method == "GET":
        return invalid_link_page(request, status=200)
    number = request.POST.get("number", "").strip()
    email = request.POST.get("email", "").strip()
    errors = new_link_errors(number, email)
    if errors:
        return invalid_link_page(
            request,
            status=400,
            typed={"number": number, "email": email},
            errors=errors,
        )
    links.send_new_link(number, email)
    return redirect(with_query(request, reverse("tickets:requester_new_link_sent")))


@requester_view
@require_GET
def new_link_sent(request: HttpRequest) -> HttpResponse:
    """Render the same page after every valid new-link request, matched or not."""
    return render(request, "tickets/requester/sent.html")
