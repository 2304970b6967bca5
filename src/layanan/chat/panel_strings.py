"""Text of the chat panel in every language, so that switching needs no reload."""

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Placeholders in braces are filled in by panel.js.
PANEL_STRINGS: dict[str, Promise] = {
    "title": _("Department service desk"),
    "language": _("Language"),
    "identifier": _("Student/Staff ID"),
    "name": _("Name"),
    "programme": _("Study programme"),
    "notStudent": _("Not a student"),
    "email": _("Email"),
    "service": _("Service"),
    "topic": _("Topic"),
    "choose": _("Choose…"),
    "start": _("Start chat"),
    "offlineNotice": _(
        "No agent is online for this service right now. Leave your request and "
        "the team will reply by email."
    ),
    "closedOffline": _("Leave your request below and the team will reply by email."),
    "messageCarried": _(
        "An agent is online now, so you can chat live. The message below is sent "
        "as the chat's first message."
    ),
    "signedInAs": _("Signed in as {name} ({identifier})"),
    "offlineSubmit": _("Send request"),
    "offlineDone": _(
        "Your request has been recorded as ticket {number}. The team will reply by "
        "email."
    ),
    "waiting": _("Waiting for an agent. Your place in the queue: {position}"),
    "connected": _("You are chatting with {name}"),
    "message": _("Message"),
    "send": _("Send"),
    "attach": _("Attach file"),
    "close": _("Close"),
    "hide": _("Minimise"),
    "confirmTitle": _("End this chat?"),
    "transcript": _("Email me the transcript"),
    "rating": _("Rating"),
    "noRating": _("No rating"),
    "comment": _("Comment"),
    "endChat": _("End chat"),
    "cancel": _("Cancel"),
    "ended": _("The chat has ended."),
    "save": _("Save"),
    "saved": _("Thank you, your answers were saved."),
    "newChat": _("Start a new chat"),
    "typing": _("The agent is typing…"),
    "sent": _("Sent"),
    "sending": _("Sending…"),
    "tooLong": _(
        "The message has {count} characters, over the limit of 4,000: shorten it "
        "or send it in parts."
    ),
    "read": _("Read"),
    "reconnecting": _("Connection lost, reconnecting…"),
    "fileTooLarge": _(
        "The file {name} is larger than {max} MiB; choose a smaller file."
    ),
    "emptyMessage": _("Type a message before sending."),
    "uploadFailed": _("The file could not be uploaded; try again."),
    "networkError": _(
        "The server could not be reached; check your connection and try again."
    ),
    "ticket": _("Ticket {number}"),
    "download": _("Download"),
    "uploading": _("Uploading {name}…"),
}


def panel_strings() -> dict[str, dict[str, str]]:
    """Return every panel string in each supported language."""
    strings = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            strings[code] = {key: str(text) for key, text in PANEL_STRINGS.items()}
    return strings
