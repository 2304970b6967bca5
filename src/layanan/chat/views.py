"""HTTP side of the chat: the widget loader, the panel, and the requester's JSON API.

Requester endpoints authenticate with the chat token in ``X-Layanan-Token`` and set
no cookies, so CSRF protection (which guards cookie sessions) does not apply. The
Origin check takes its place against other sites.
"""

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from layanan.catalog.models import Service, StudyProgramme
from layanan.chat import access, presence
from layanan.chat.forms import OfflineRequestForm, PreChatForm, form_errors_json
from layanan.chat.hours import (
    DeskHours,
    closed_notice,
    desk_hours_payload,
    team_desk_hours,
)
from layanan.chat.identity import IdentityRejected, SignedIdentity, verify_identity
from layanan.chat.models import Attachment, Conversation, SenderKind
from layanan.chat.panel_strings import panel_strings
from layanan.chat.payloads import conversation_payload, message_payload
from layanan.chat.services import (
    ChatError,
    EndedBy,
    Ending,
    NewChat,
    NewMessage,
    end_conversation,
    post_message,
    start_conversation,
    validate_client_id,
)
from layanan.chat.uploads import (
    INLINE_TYPES,
    UploadRejected,
    delete_stored,
    open_stored,
    store_upload,
)
from layanan.middleware import default_policy
from layanan.people.models import Requester
from layanan.people.services import upsert_requester

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Layanan-Token"  # noqa: S105 (a header name, not a secret)
# The services endpoint is a GET, so the panel sends the signed identity in
# headers, which stay out of access logs, rather than in the query string.
IDENTITY_HEADER = "X-Layanan-Identity"
SIGNATURE_HEADER = "X-Layanan-Signature"
# Seconds between the pre-chat form's reads of the services endpoint, so that it
# follows agents going online and offline. The panel URL's poll_seconds query
# parameter overrides it within the bounds below, which the browser tests use.
SERVICES_POLL_SECONDS = 20
POLL_SECONDS_BOUNDS = (1, 300)
View = Callable[..., HttpResponseBase]


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def origin_allowed(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        # Browsers send Origin on every cross-origin request, so a request without
        # one comes from the product's own pages or from a non-browser client.
        return True
    return origin in (settings.BASE_ORIGIN, f"{request.scheme}://{request.get_host()}")


def requester_api(view: View) -> View:
    """Guard a requester endpoint: check Origin and exempt it from cookie CSRF."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not origin_allowed(request):
            logger.warning(
                "api request rejected: origin not allowed path=%s", request.path
            )
            return error_response(
                403, "origin_rejected", _("This site may not use the chat service.")
            )
        response = view(request, *args, **kwargs)
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def conversation_for_request(request: HttpRequest) -> Conversation:
    return access.get_conversation_for_token(request.headers.get(TOKEN_HEADER, ""))


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def form_data(data: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in data.items() if isinstance(value, str)}


def widget_loader(request: HttpRequest) -> HttpResponse:
    """Serve the embeddable loader; it reads its own URL to find the product."""
    path = finders.find("layanan/widget.js")
    if not isinstance(path, str):
        raise ImproperlyConfigured("The static file layanan/widget.js is missing.")
    with open(path, encoding="utf-8") as source:
        response = HttpResponse(source.read(), content_type="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def panel_context(request: HttpRequest, embedded: bool) -> dict[str, Any]:
    language = get_language() or settings.LANGUAGE_CODE
    portal_origin = request.GET.get("origin", "") if embedded else ""
    if embedded and not portal_origin_allowed(portal_origin):
        portal_origin = ""
    return {
        "embedded": embedded,
        "panel_config": {
            "language": language,
            "embedded": embedded,
            "portalOrigin": portal_origin,
            "uploadMaxBytes": settings.UPLOAD_MAX_BYTES,
            "uploadMaxMb": settings.UPLOAD_MAX_MB,
            "tokenKey": "layanan.chat.token",
            "servicesPollSeconds": services_poll_seconds(request),
            "strings": panel_strings(),
        },
    }


def services_poll_seconds(request: HttpRequest) -> int:
    """Return the panel's services poll interval, from poll_seconds if it is valid."""
    value = request.GET.get("poll_seconds", "")
    lowest, highest = POLL_SECONDS_BOUNDS
    if value.isdigit() and lowest <= int(value) <= highest:
        return int(value)
    return SERVICES_POLL_SECONDS


def portal_origin_allowed(origin: str) -> bool:
    if not origin.startswith(("http://", "https://")):
        return False
    return "*" in settings.WIDGET_ORIGINS or origin in settings.WIDGET_ORIGINS


@xframe_options_exempt
@require_GET
def panel(request: HttpRequest) -> HttpResponse:
    """Render the chat panel for the widget's iframe."""
    response = render(request, "chat/panel.html", panel_context(request, embedded=True))
    ancestors = " ".join(settings.WIDGET_ORIGINS) or "'none'"
    policy = default_policy(request).replace(
        "frame-ancestors 'none'", f"frame-ancestors 'self' {ancestors}"
    )
    response.headers["Content-Security-Policy"] = policy
    return response


@require_GET
def standalone(request: HttpRequest) -> HttpResponse:
    """Render the chat as a page of its own, for a link shared anywhere."""
    return render(request, "chat/panel.html", panel_context(request, embedded=False))


def checked_identity(
    encoded: object, signature: object, context: str
) -> tuple[SignedIdentity | None, IdentityRejected | None]:
    """Verify a signed identity if one was sent; return it or why it was rejected."""
    if not encoded and not signature:
        return None, None
    try:
        return verify_identity(str(encoded or ""), str(signature or "")), None
    except IdentityRejected as rejection:
        logger.info(
            "signed identity rejected context=%s code=%s", context, rejection.code
        )
        return None, rejection


def identity_payload(
    identity: SignedIdentity | None, rejection: IdentityRejected | None
) -> dict[str, Any] | None:
    if identity is not None:
        return identity.public_payload()
    if rejection is not None:
        return {"verified": False, "code": rejection.code, "reason": rejection.reason}
    return None


@requester_api
@require_GET
def services(request: HttpRequest) -> JsonResponse:
    online = presence.online_team_ids()
    moment = timezone.now()
    hours_by_team: dict[int, DeskHours] = {}
    listed = []
    for service in Service.objects.active().select_related("team"):
        if service.team_id not in hours_by_team:
            hours_by_team[service.team_id] = team_desk_hours(
                service.team, request, moment
            )
        listed.append(
            {
                "id": service.pk,
                "names": {"id": service.name_id, "en": service.name_en},
                "team_online": service.team_id in online,
                **desk_hours_payload(hours_by_team[service.team_id]),
            }
        )
    body: dict[str, Any] = {
        "services": listed,
        "programmes": [
            {"id": programme.pk, "name": programme.name}
            for programme in StudyProgramme.objects.filter(active=True)
        ],
    }
    identity = identity_payload(
        *checked_identity(
            request.headers.get(IDENTITY_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            "services",
        )
    )
    if identity is not None:
        body["identity"] = identity
    return JsonResponse(body)


@dataclass(frozen=True)
class SignedForm:
    """Submitted form fields, with the signed identity's fields put over them."""

    fields: dict[str, str]
    identity: SignedIdentity | None
    # Whether the request carried a signed identity at all, valid or not.
    identity_sent: bool

    def identity_fields(self) -> dict[str, bool]:
        """Return the response's identity_verified key when an identity was sent."""
        if not self.identity_sent:
            return {}
        return {"identity_verified": self.identity is not None}


def signed_form_data(data: dict[str, Any], context: str) -> SignedForm:
    """Read the form fields of a JSON body; a valid signed identity overrides them."""
    fields = form_data(data)
    identity, rejection = checked_identity(
        data.get("identity"), data.get("signature"), context
    )
    if identity is not None:
        fields.update(identity.form_fields())
    return SignedForm(
        fields=fields,
        identity=identity,
        identity_sent=identity is not None or rejection is not None,
    )


def mark_verified(requester: Requester, moment: datetime) -> None:
    requester.verified_at = moment
    requester.save(update_fields=["verified_at", "updated"])


@requester_api
@require_POST
def start(request: HttpRequest) -> JsonResponse:
    data = json_body(request)
    signed = signed_form_data(data, "start")
    form = PreChatForm(signed.fields)
    if not form.is_valid():
        return JsonResponse({"errors": form_errors_json(form)}, status=400)
    service: Service = form.cleaned_data["service"]
    hours = team_desk_hours(service.team, request, timezone.now())
    if not hours.open:
        logger.info(
            "chat start rejected: desk closed service=%s team=%s",
            service.code,
            service.team_id,
        )
        return error_response(
            409,
            "closed",
            closed_notice(hours, get_language() or settings.LANGUAGE_CODE)
            + " "
            + _("Send an offline request instead, and the team will reply by email."),
        )
    if not presence.team_is_online(service.team_id):
        return error_response(
            409,
            "team_offline",
            _("No agent is online for this service; send an offline request instead."),
        )
    with transaction.atomic():
        requester = upsert_requester(
            identifier=form.cleaned_data["identifier"],
            name=form.cleaned_data["name"],
            study_programme=form.cleaned_data["study_programme"],
            email=form.cleaned_data["email"],
        )
        conversation, token = start_conversation(
            NewChat(
                requester=requester,
                email=form.cleaned_data["email"],
                service=service,
                topic=form.cleaned_data["topic"],
                language=get_language() or settings.LANGUAGE_CODE,
                page_url=str(data.get("page_url", ""))[:500],
            )
        )
        if signed.identity is not None:
            mark_verified(requester, conversation.created)
            conversation.identity_verified = True
            conversation.save(update_fields=["identity_verified"])
    return JsonResponse(
        {
            "token": token,
            "conversation": conversation_payload(conversation),
            **signed.identity_fields(),
        },
        status=201,
    )


@requester_api
@require_POST
def offline(request: HttpRequest) -> JsonResponse:
    from layanan.tickets.services import OfflineRequest, create_offline_ticket

    signed = signed_form_data(json_body(request), "offline")
    form = OfflineRequestForm(signed.fields)
    if not form.is_valid():
        return JsonResponse({"errors": form_errors_json(form)}, status=400)
    with transaction.atomic():
        requester = upsert_requester(
            identifier=form.cleaned_data["identifier"],
            name=form.cleaned_data["name"],
            study_programme=form.cleaned_data["study_programme"],
            email=form.cleaned_data["email"],
        )
        ticket = create_offline_ticket(
            OfflineRequest(
                requester=requester,
                email=form.cleaned_data["email"],
                service=form.cleaned_data["service"],
                topic=form.cleaned_data["topic"],
                message=form.cleaned_data["message"],
                language=get_language() or settings.LANGUAGE_CODE,
            )
        )
        if signed.identity is not None:
            mark_verified(requester, timezone.now())
    return JsonResponse(
        {"ticket_number": ticket.number, **signed.identity_fields()}, status=201
    )


@requester_api
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    try:
        conversation = conversation_for_request(request)
    except access.NotFound:
        return error_response(404, "not_found", _("This chat was not found."))
    return attach_file(
        request,
        conversation,
        sender_kind=SenderKind.REQUESTER,
        sender_name=conversation.requester_name,
    )


def attach_file(
    request: HttpRequest,
    conversation: Conversation,
    *,
    sender_kind: SenderKind,
    sender_name: str,
) -> JsonResponse:
    """Store an uploaded file and post it as a message; shared by both sides."""
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return error_response(400, "no_file", _("Choose a file to attach."))
    try:
        client_id = validate_client_id(
            request.POST.get("client_id") or f"upload:{uuid.uuid4()}"
        )
        stored = store_upload(uploaded)
    except (ChatError, UploadRejected) as error:
        return error_response(400, error.code, error.message)
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                conversation=conversation,
                storage_path=stored.storage_path,
                original_name=stored.original_name,
                content_type=stored.content_type,
                size=stored.size,
                sha256=stored.sha256,
                uploaded_by=sender_kind,
            )
            message, created = post_message(
                conversation,
                NewMessage(
                    sender_kind=sender_kind,
                    sender_name=sender_name,
                    body="",
                    client_id=client_id,
                    sender=agent_or_none(request, sender_kind),
                    attachment=attachment,
                ),
            )
            if not created:
                # A re-sent upload: the first copy is stored and posted already,
                # so this attachment row is dropped and the first message returned.
                transaction.set_rollback(True)
    except ChatError as error:
        delete_stored(stored.storage_path)
        return error_response(400, error.code, error.message)
    if not created:
        delete_stored(stored.storage_path)
    return JsonResponse({"message": message_payload(message)}, status=201)


def agent_or_none(request: HttpRequest, sender_kind: SenderKind) -> User | None:
    user = request.user
    if sender_kind == SenderKind.AGENT and isinstance(user, User):
        return user
    return None


def rating_from(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        rating = int(str(value))
    except ValueError:
        return None
    return rating if 1 <= rating <= 5 else None


@requester_api
@require_POST
def end(request: HttpRequest) -> JsonResponse:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        conversation = conversation_for_request(request)
    except access.NotFound:
        return error_response(404, "not_found", _("This chat was not found."))
    data = json_body(request)
    email = None
    if data.get("send_transcript"):
        email = str(data.get("email", "")).strip()
        try:
            validate_email(email)
        except ValidationError:
            return JsonResponse(
                {
                    "errors": {
                        "email": [
                            {
                                "code": "invalid",
                                "message": _(
                                    "Enter a valid email address for the transcript, "
                                    "such as nama@example.com."
                                ),
                            }
                        ]
                    }
                },
                status=400,
            )
    if data.get("rating") not in (None, "") and rating_from(data.get("rating")) is None:
        return JsonResponse(
            {
                "errors": {
                    "rating": [
                        {
                            "code": "invalid",
                            "message": _("Choose a rating from 1 to 5."),
                        }
                    ]
                }
            },
            status=400,
        )
    end_conversation(
        conversation,
        Ending(
            ended_by=EndedBy.REQUESTER,
            transcript_email=email,
            rating=rating_from(data.get("rating")),
            comment=str(data.get("comment", ""))[:2000],
        ),
    )
    conversation.refresh_from_db()
    return JsonResponse({"conversation": conversation_payload(conversation)})


def file_response(attachment: Attachment, *, inline: bool = False) -> FileResponse:
    """Serve a stored file so that no browser will render it as a page.

    Only PNG and JPEG, whose content was checked at upload, may be shown inline;
    everything else is always a download.
    """
    response = FileResponse(
        open_stored(attachment.storage_path),
        as_attachment=not (inline and attachment.content_type in INLINE_TYPES),
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@requester_api
@require_GET
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    try:
        found = access.get_attachment_for_token(
            request.headers.get(TOKEN_HEADER, ""), attachment_id
        )
    except access.NotFound:
        return error_response(404, "not_found", _("This file was not found."))
    return file_response(found, inline=request.GET.get("inline") == "1")
