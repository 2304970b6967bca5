"""The console's doors to tickets, mail, teams and the dashboard, from
``layanan.access``.

Members and leads see their teams' records, heads of department and admins see
every record, anyone else sees nothing. ``get_*`` helpers raise ``NotFound`` both
for a missing and for a forbidden object, so that probing numbers reveals nothing
to an outsider.
"""

from layanan.access import (
    ConsoleRole,
    NotFound,
    assignment_refusal,
    console_role,
    dashboard_team_ids,
    get_attachment_for_ticket_agent,
    get_outbound_email_for_agent,
    get_team_for_settings,
    get_ticket_for_agent,
    inbound_emails_for_agent,
    may_act_on_conversation,
    may_act_on_ticket,
    may_assign,
    may_change_team_settings,
    may_manage_team,
    may_read_inbound_log,
    may_transfer,
    may_view_dashboard,
    outbound_emails_for_agent,
    teams_for_settings,
    tickets_for_agent,
)

__all__ = [
    "ConsoleRole",
    "NotFound",
    "assignment_refusal",
    "console_role",
    "dashboard_team_ids",
    "get_attachment_for_ticket_agent",
    "get_outbound_email_for_agent",
    "get_team_for_settings",
    "get_ticket_for_agent",
    "inbound_emails_for_agent",
    "may_act_on_conversation",
    "may_act_on_ticket",
    "may_assign",
    "may_change_team_settings",
    "may_manage_team",
    "may_read_inbound_log",
    "may_transfer",
    "may_view_dashboard",
    "outbound_emails_for_agent",
    "teams_for_settings",
    "tickets_for_agent",
]
