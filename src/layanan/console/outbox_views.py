"""Console pages for the email log: what was sent, to whom, and its content."""

import logging
import uuid

from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from layanan.console.access import (
    NotFound,
    get_outbound_email_for_agent,
    outbound_emails_for_agent,
)
from layanan.console.pages import (
    MAIL_HTML_POLICY,
    PAGE_SIZE,
    Viewer,
    console_view,
    render_page,
)
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import attachments_of, build_message

logger = logging.getLogger(__name__)


def reference_link(reference: str) -> tuple[str, str] | None:
    """Return the console URL and label of what a mail is about, if it names one."""
    kind, _separator, key = reference.partition(":")
    if kind == "ticket" and key:
        return reverse("console:ticket", args=[key]), key
    if kind == "conversation":
        try:
            public_id = uuid.UUID(key)
        except ValueError:
            return None
        return reverse("console:chat", args=[public_id]), _("Chat")
    return None


@console_view
@require_GET
def outbox(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """List the outbound mail the viewer may read, newest first."""
    queryset = outbound_emails_for_agent(viewer.user).order_by("-created", "-id")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"email": email, "link": reference_link(email.reference)} for email in page]
    context = {"page": page, "rows": rows, "query_prefix": ""}
    return render_page(request, viewer, "console/outbox.html", context)


def email_or_404(viewer: Viewer, email_id: int) -> OutboundEmail:
    try:
        return get_outbound_email_for_agent(viewer.user, email_id)
    except NotFound:
        raise Http404 from None


@console_view
@require_GET
def outbox_message(request: HttpRequest, viewer: Viewer, email_id: int) -> HttpResponse:
    """Show one outbound mail as the recipient would receive it."""
    email = email_or_404(viewer, email_id)
    # The files stay unread: the page lists their names only.
    message = build_message(email, with_attachments=False)
    headers = [
        ("From", message.from_email),
        ("To", ", ".join(message.to)),
    ]
    if message.cc:
        headers.append(("Cc", ", ".join(message.cc)))
    headers.append(("Subject", str(message.subject)))
    if message.reply_to:
        headers.append(("Reply-To", ", ".join(message.reply_to)))
    headers.extend(message.extra_headers.items())
    try:
        names = [attachment.original_name for attachment in attachments_of(email)]
    except ValueError:
        names = [_("(a file that is no longer stored)")]
    if names:
        headers.append((_("Attachments"), ", ".join(names)))
    context = {
        "email": email,
        "headers": headers,
        "body_text": message.body,
        "link": reference_link(email.reference),
    }
    return render_page(request, viewer, "console/outbox_message.html", context)


@xframe_options_sameorigin
@console_view
@require_GET
def outbox_html(request: HttpRequest, viewer: Viewer, email_id: int) -> HttpResponse:
    """Serve a mail's HTML part for a sandboxed frame on the console's own page."""
    email = email_or_404(viewer, email_id)
    response = HttpResponse(email.body_html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = MAIL_HTML_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
