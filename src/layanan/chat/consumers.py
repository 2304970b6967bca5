"""WebSocket consumers for requesters and agents; ``docs/protocol.md`` is the contract.

Consumers parse frames, check who may do what and call ``chat.services``. Database
work runs through ``sync_to_async`` on Django's kept-open connection; the stock
``database_sync_to_async`` would close and reopen it around every call.
"""

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from layanan import realtime
from layanan.chat import access, presence, routing
from layanan.chat.models import Conversation, ConversationStatus, SenderKind
from layanan.chat.payloads import conversation_payload, message_payload, queue_item
from layanan.chat.services import (
    ChatError,
    NewMessage,
    accept_conversation,
    agent_display_name,
    mark_read,
    post_message,
    validate_body,
    validate_client_id,
)
from layanan.people.models import AgentStatus

logger = logging.getLogger(__name__)

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")

AUTH_TIMEOUT_SECONDS = 10
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_ORIGIN = 4403
CLOSE_FORBIDDEN = 4403


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Accept only the product's own origin: the panel and console are served there."""
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if not origin:
        return False
    if origin == settings.BASE_ORIGIN:
        return True
    # Without a Host header, an origin with no host part ("null") would match it.
    return bool(host) and urlsplit(origin).netloc == host


class JsonConsumer(AsyncWebsocketConsumer):
    """Shared frame handling: JSON parsing, errors, ordered replay, relays."""

    audience = "all"

    async def connect(self) -> None:
        self.language = settings.LANGUAGE_CODE
        # Highest seq sent per conversation, so that a live frame that raced the
        # replay is not sent twice.
        self.sent_seq: dict[str, int] = {}
        if not origin_allowed(self.scope):
            logger.warning("socket rejected: origin not allowed path=%s", self.path)
            await self.close(code=CLOSE_BAD_ORIGIN)
            return
        await self.accept()
        await self.opened()

    @property
    def path(self) -> str:
        return str(self.scope.get("path", ""))

    async def opened(self) -> None:
        """Run once the socket is accepted."""

    async def call(
        self,
        function: Callable[Parameters, Result],
        *args: Parameters.args,
        **kwargs: Parameters.kwargs,
    ) -> Result:
        """Run a service in the database thread, then broadcast what it committed.

        Broadcasting from the event loop keeps the database thread, which every
        socket shares, free for the next message.
        """
        result, events = await sync_to_async(realtime.run_collecting)(
            function, *args, **kwargs
        )
        await realtime.deliver(events)
        return result

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def send_error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_frame(
            {"type": "error", "code": code, "message": message, **extra}
        )

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error(
                "bad_frame", self.translate(gettext_noop("The frame is not valid."))
            )
            return
        handler = getattr(self, "frame_" + frame["type"].replace(".", "_"), None)
        if handler is None:
            await self.send_error(
                "bad_frame", self.translate(gettext_noop("Unknown frame type."))
            )
            return
        try:
            # The services' error messages follow the socket's language; the
            # override reaches the sync_to_async thread through the context.
            with translation.override(self.language):
                await handler(frame)
        except ChatError as error:
            extra = {"client_id": frame["client_id"]} if "client_id" in frame else {}
            await self.send_error(error.code, error.message, **extra)
        except access.NotFound:
            await self.send_error(
                "not_found", self.translate(gettext_noop("This chat was not found."))
            )

    def translate(self, text: str) -> str:
        with translation.override(self.language):
            return _(text)

    async def frame_ping(self, frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def relay(self, event: dict[str, Any]) -> None:
        """Forward a frame published by ``realtime.publish`` to this socket."""
        if event["audience"] not in ("all", self.audience):
            return
        frame = event["frame"]
        if frame["type"] == "message":
            key = frame["conversation"]
            seq = frame["message"]["seq"]
            if seq <= self.sent_seq.get(key, 0):
                return
            self.sent_seq[key] = seq
        await self.send_frame(self.shape(frame))

    def shape(self, frame: dict[str, Any]) -> dict[str, Any]:
        return frame

    async def replay(self, conversation: Conversation, after_seq: int) -> None:
        """Join the chat's group and send what the client missed, in order."""
        key = str(conversation.public_id)
        await self.channel_layer.group_add(conversation.group_name, self.channel_name)
        messages = await sync_to_async(_messages_after)(conversation, after_seq)
        self.sent_seq[key] = max(self.sent_seq.get(key, 0), after_seq)
        for payload in messages:
            if payload["seq"] > self.sent_seq[key]:
                self.sent_seq[key] = payload["seq"]
                await self.send_frame(
                    self.shape(
                        {"type": "message", "conversation": key, "message": payload}
                    )
                )


def _messages_after(conversation: Conversation, after_seq: int) -> list[dict[str, Any]]:
    messages = conversation.messages.filter(seq__gt=after_seq).select_related(
        "attachment"
    )
    return [message_payload(message) for message in messages.order_by("seq")]


def _int_or_zero(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


class RequesterConsumer(JsonConsumer):
    """The widget's socket; authenticated by the chat token in the first frame."""

    audience = "requester"

    async def opened(self) -> None:
        self.conversation: Conversation | None = None
        self.auth_timer = asyncio.get_running_loop().call_later(
            AUTH_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._auth_timeout())
        )

    async def _auth_timeout(self) -> None:
        if self.conversation is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "auth_timer", None)
        if timer is not None:
            timer.cancel()
        conversation = getattr(self, "conversation", None)
        if conversation is not None:
            await self.channel_layer.group_discard(
                conversation.group_name, self.channel_name
            )

    def shape(self, frame: dict[str, Any]) -> dict[str, Any]:
        # The requester has one chat per socket, so the id would only be noise. A
        # ``state`` frame's "conversation" is the payload itself and stays.
        if not isinstance(frame.get("conversation"), str):
            return frame
        return {key: value for key, value in frame.items() if key != "conversation"}

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        if self.conversation is None:
            await self.authenticate(text_data or "")
            return
        await super().receive(text_data, bytes_data)

    async def authenticate(self, text_data: str) -> None:
        try:
            frame = json.loads(text_data)
            token = frame["token"] if frame.get("type") == "auth" else ""
        except (ValueError, KeyError, TypeError, AttributeError):
            token = ""
        try:
            conversation = await sync_to_async(access.get_conversation_for_token)(
                str(token)
            )
        except access.NotFound:
            logger.warning("requester socket rejected: unknown token")
            await self.send_error(
                "auth_required",
                self.translate(gettext_noop("This chat was not found.")),
            )
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.conversation = conversation
        self.language = conversation.language
        self.auth_timer.cancel()
        state = await sync_to_async(conversation_payload)(conversation)
        await self.send_frame(
            {"type": "ready", "conversation": state, "last_seq": conversation.last_seq}
        )
        await self.replay(conversation, _int_or_zero(frame.get("last_seq")))

    def authenticated_conversation(self) -> Conversation:
        """Return the socket's chat; frames reach handlers only after auth."""
        if self.conversation is None:
            raise RuntimeError("a frame was handled before authentication")
        return self.conversation

    async def frame_message(self, frame: dict[str, Any]) -> None:
        conversation = self.authenticated_conversation()
        new = NewMessage(
            sender_kind=SenderKind.REQUESTER,
            sender_name=conversation.requester_name,
            body=validate_body(frame.get("body")),
            client_id=validate_client_id(frame.get("client_id")),
        )
        message, _created = await self.call(post_message, conversation, new)
        await self.send_frame(
            {"type": "ack", "client_id": message.client_id, "seq": message.seq}
        )

    async def frame_typing(self, frame: dict[str, Any]) -> None:
        conversation = self.authenticated_conversation()
        await self.channel_layer.group_send(
            conversation.group_name,
            {
                "type": "relay",
                "audience": "agent",
                "frame": {
                    "type": "typing",
                    "conversation": str(conversation.public_id),
                    "sender_kind": "requester",
                    "active": bool(frame.get("active")),
                },
            },
        )

    async def frame_read(self, frame: dict[str, Any]) -> None:
        conversation = self.authenticated_conversation()
        await self.call(
            mark_read,
            conversation,
            SenderKind.REQUESTER,
            _int_or_zero(frame.get("seq")),
        )


class AgentConsumer(JsonConsumer):
    """The console's socket: queue updates and every chat the agent has open."""

    audience = "agent"

    async def opened(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        cookies = self.scope.get("cookies", {})
        self.language = cookies.get(settings.LANGUAGE_COOKIE_NAME, self.language)
        if self.language not in dict(settings.LANGUAGES):
            self.language = settings.LANGUAGE_CODE
        self.groups_joined: set[str] = set()
        team_ids = await sync_to_async(presence.queue_team_ids)(user)
        if not team_ids:
            # Logged in, but neither a team member nor a supervisor.
            logger.warning("console socket rejected: no team user=%s", user.pk)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for team_id in team_ids:
            await self._join(realtime.team_group(team_id))
        await self._join(realtime.agent_group(user.pk))
        status = await sync_to_async(presence.connect)(user, self.channel_name)
        queue = await sync_to_async(_queue_for)(team_ids)
        await self.send_frame(
            {"type": "hello", "status": status, "user_id": user.pk, "queue": queue}
        )
        # A round-robin chat waiting for an eligible agent may go to this one now;
        # the offer arrives as a queue.updated frame after hello.
        await self.call(routing.route_for_agent, user.pk)

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "user", None) is not None:
            await sync_to_async(presence.disconnect)(self.channel_name)

    async def relay(self, event: dict[str, Any]) -> None:
        frame = event["frame"]
        if frame["type"] == "transferred" and frame.get("agent_id") == self.user.pk:
            # The chat is this agent's now: hear its messages without a subscribe.
            public_id = uuid.UUID(frame["conversation"])
            await self._join(realtime.conversation_group(public_id.hex))
        await super().relay(event)

    async def _conversation(self, frame: dict[str, Any]) -> Conversation:
        return await sync_to_async(access.get_conversation_for_agent)(
            self.user, str(frame.get("conversation", ""))
        )

    async def frame_ping(self, frame: dict[str, Any]) -> None:
        await sync_to_async(presence.heartbeat)(self.channel_name)
        await self.send_frame({"type": "pong"})

    async def frame_status(self, frame: dict[str, Any]) -> None:
        status = await sync_to_async(presence.set_status)(
            self.user, str(frame.get("status", ""))
        )
        await self.send_frame({"type": "status", "status": status})
        if status == AgentStatus.AWAY:
            await self.call(routing.withdraw_offers, self.user)
        else:
            await self.call(routing.route_for_agent, self.user.pk)

    async def frame_accept(self, frame: dict[str, Any]) -> None:
        conversation = await self._conversation(frame)
        allowed = await sync_to_async(presence.may_accept)(self.user, conversation)
        if not allowed:
            raise ChatError(
                "not_allowed",
                self.translate(
                    gettext_noop("This chat belongs to another team's queue.")
                ),
            )
        await self.call(accept_conversation, conversation, self.user)
        # The chat is this socket's now: hear its messages without a subscribe.
        await self._join(conversation.group_name)
        state = await sync_to_async(conversation_payload)(conversation, for_agent=True)
        await self.send_frame(
            {
                "type": "accepted",
                "conversation": str(conversation.public_id),
                "state": state,
            }
        )

    async def frame_subscribe(self, frame: dict[str, Any]) -> None:
        conversation = await self._conversation(frame)
        self.groups_joined.add(conversation.group_name)
        state = await sync_to_async(conversation_payload)(conversation, for_agent=True)
        await self.send_frame(
            {
                "type": "ready",
                "conversation": str(conversation.public_id),
                "state": state,
                "last_seq": conversation.last_seq,
            }
        )
        await self.replay(conversation, _int_or_zero(frame.get("last_seq")))

    async def _held_conversation(self, frame: dict[str, Any]) -> Conversation:
        conversation = await self._conversation(frame)
        if conversation.agent_id != self.user.pk:
            raise ChatError(
                "not_allowed",
                self.translate(gettext_noop("Accept the chat before replying.")),
            )
        if conversation.status == ConversationStatus.ENDED:
            raise ChatError(
                "chat_ended", self.translate(gettext_noop("This chat has ended."))
            )
        return conversation

    async def frame_message(self, frame: dict[str, Any]) -> None:
        body = validate_body(frame.get("body"))
        client_id = validate_client_id(frame.get("client_id"))
        conversation = await self._held_conversation(frame)
        new = NewMessage(
            sender_kind=SenderKind.AGENT,
            sender_name=agent_display_name(self.user),
            body=body,
            client_id=client_id,
            sender=self.user,
        )
        message, _created = await self.call(post_message, conversation, new)
        await self.send_frame(
            {
                "type": "ack",
                "conversation": str(conversation.public_id),
                "client_id": message.client_id,
                "seq": message.seq,
            }
        )

    async def frame_typing(self, frame: dict[str, Any]) -> None:
        conversation = await self._held_conversation(frame)
        await self.channel_layer.group_send(
            conversation.group_name,
            {
                "type": "relay",
                "audience": "requester",
                "frame": {
                    "type": "typing",
                    "conversation": str(conversation.public_id),
                    "sender_kind": "agent",
                    "active": bool(frame.get("active")),
                },
            },
        )

    async def frame_read(self, frame: dict[str, Any]) -> None:
        conversation = await self._conversation(frame)
        if conversation.agent_id == self.user.pk:
            await self.call(
                mark_read,
                conversation,
                SenderKind.AGENT,
                _int_or_zero(frame.get("seq")),
            )


def _queue_for(team_ids: list[int]) -> list[dict[str, Any]]:
    waiting = (
        Conversation.objects.filter(
            team_id__in=team_ids, status=ConversationStatus.WAITING
        )
        .select_related("requester__study_programme", "service", "team")
        .order_by("created")
    )
    return [queue_item(conversation) for conversation in waiting]
