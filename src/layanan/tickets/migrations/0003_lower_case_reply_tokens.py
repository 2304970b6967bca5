"""Lower the case of existing reply tokens, so that they match a lowered address.

Replies to mail sent before this change carry the mixed-case token. Inbound
mail now looks tokens up in lower case, so those replies still thread.
"""

import secrets

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def lower_tokens(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    ticket_model = apps.get_model("tickets", "Ticket")
    for ticket in ticket_model.objects.only("pk", "reply_token").iterator():
        lowered = ticket.reply_token.lower()
        if lowered == ticket.reply_token:
            continue
        # A clash after lowering is practically impossible with 18 random bytes;
        # a ticket that would clash gets a fresh token instead.
        if ticket_model.objects.filter(reply_token=lowered).exists():
            lowered = secrets.token_hex(16)
        ticket_model.objects.filter(pk=ticket.pk).update(reply_token=lowered)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_team_work")]

    operations = [migrations.RunPython(lower_tokens, migrations.RunPython.noop)]
