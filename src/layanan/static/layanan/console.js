// Agent console: one WebSocket per page (docs/protocol.md, "Agent socket"), the
// live queue on the home page and the live chat on a chat page.
// Every text that a requester or agent typed is inserted with textContent.
"use strict";

(() => {
  const configElement = document.getElementById("console-config");
  if (!configElement) {
    return;
  }
  const config = JSON.parse(configElement.textContent);
  const strings = config.strings;
  const labels = config.labels;
  // Only the pages that show chats carry these; elsewhere offers and browser
  // notifications stay off.
  const routingStrings = config.routingStrings || null;

  const PING_MILLISECONDS = 25000;
  const FIRST_RETRY_MILLISECONDS = 1000;
  const LAST_RETRY_MILLISECONDS = 15000;
  const TYPING_IDLE_MILLISECONDS = 3000;
  const TYPING_SHOWN_MILLISECONDS = 6000;
  const READ_DELAY_MILLISECONDS = 300;
  const MAX_BODY_LENGTH = 4000;
  const CLOSE_UNAUTHENTICATED = 4401;
  // Errors after which re-sending the same message can never succeed.
  const FINAL_MESSAGE_ERRORS = new Set([
    "chat_ended",
    "empty_message",
    "message_too_long",
    "bad_client_id",
    "not_allowed",
    "not_found",
  ]);

  /** Fill "%(name)s"-style placeholders, as Django's translations use them. */
  function format(template, values) {
    return template.replace(/%\((\w+)\)[sd]/g, (match, key) =>
      key in values ? String(values[key]) : match,
    );
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues works on plain http too.
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"));
    return [
      hex.slice(0, 4).join(""),
      hex.slice(4, 6).join(""),
      hex.slice(6, 8).join(""),
      hex.slice(8, 10).join(""),
      hex.slice(10).join(""),
    ].join("-");
  }

  function chatUrl(conversationId) {
    return config.urls.chat.replace(config.urls.chatPlaceholder, conversationId);
  }

  function attachmentUrl(attachmentId) {
    return config.urls.attachment.replace(/\/0\/$/, `/${attachmentId}/`);
  }

  function ticketUrl(number) {
    return config.urls.ticket.replace(
      config.urls.ticketPlaceholder,
      encodeURIComponent(number),
    );
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) {
      return input.value;
    }
    const cookie = document.cookie
      .split(";")
      .map((part) => part.trim())
      .find((part) => part.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
  }

  const timeFormat = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone: config.timeZone,
  });

  function formatDuration(totalSeconds) {
    const seconds = Math.max(0, Math.floor(totalSeconds));
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    if (hours > 0) {
      return `${hours}:${String(minutes).padStart(2, "0")}:${rest}`;
    }
    return `${minutes}:${rest}`;
  }

  function formatSize(bytes) {
    if (bytes < 1024) {
      return `${bytes} B`;
    }
    if (bytes < 1024 * 1024) {
      return `${(bytes / 1024).toFixed(1)} KB`;
    }
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  // ---------------------------------------------------------------- socket

  /** One socket that reconnects with backoff and pings while it is open. */
  class ConsoleSocket {
    constructor(handlers) {
      this.handlers = handlers;
      this.socket = null;
      this.retries = 0;
      this.pingTimer = null;
      this.stopped = false;
    }

    get isOpen() {
      return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
    }

    connect() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(
        `${scheme}//${window.location.host}${config.socketPath}`,
      );
      this.socket = socket;
      socket.addEventListener("open", () => {
        this.retries = 0;
        this.pingTimer = window.setInterval(
          () => this.send({ type: "ping" }),
          PING_MILLISECONDS,
        );
        this.handlers.open();
      });
      socket.addEventListener("message", (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        if (frame && typeof frame.type === "string") {
          this.handlers.frame(frame);
        }
      });
      socket.addEventListener("close", (event) => {
        window.clearInterval(this.pingTimer);
        this.socket = null;
        if (event.code === CLOSE_UNAUTHENTICATED) {
          this.stopped = true;
        }
        this.handlers.close(event.code, this.stopped);
        if (!this.stopped) {
          this.scheduleReconnect();
        }
      });
    }

    scheduleReconnect() {
      const delay = Math.min(
        LAST_RETRY_MILLISECONDS,
        FIRST_RETRY_MILLISECONDS * 2 ** this.retries,
      );
      this.retries += 1;
      window.setTimeout(() => this.connect(), delay);
    }

    /** Send a frame; return false when the socket is not open. */
    send(frame) {
      if (!this.isOpen) {
        return false;
      }
      this.socket.send(JSON.stringify(frame));
      return true;
    }
  }

  // ---------------------------------------------------------------- header

  const connectionElement = document.querySelector("[data-connection]");
  const statusButton = document.querySelector("[data-status-toggle]");
  const baseTitle = document.title;
  let agentStatus = config.status;

  function showConnection(text) {
    if (connectionElement) {
      connectionElement.textContent = text;
    }
  }

  function showStatus(status) {
    agentStatus = status === "away" ? "away" : "online";
    if (statusButton) {
      statusButton.dataset.status = agentStatus;
      statusButton.textContent =
        agentStatus === "away" ? strings.statusAway : strings.statusOnline;
    }
  }

  // ---------------------------------------------------------------- sound

  let audioContext = null;

  function unlockAudio() {
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!audioContext && AudioContextClass) {
      audioContext = new AudioContextClass();
    }
    if (audioContext && audioContext.state === "suspended") {
      audioContext.resume().catch(() => {});
    }
  }

  // Browsers' autoplay rules keep audio suspended until the user interacts with
  // the page, so each click or key press tries to resume it.
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);

  function beep() {
    unlockAudio();
    if (!audioContext || audioContext.state !== "running") {
      return;
    }
    const start = audioContext.currentTime;
    const oscillator = audioContext.createOscillator();
    const gain = audioContext.createGain();
    oscillator.type = "sine";
    oscillator.frequency.setValueAtTime(880, start);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    oscillator.connect(gain).connect(audioContext.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.4);
  }

  // ---------------------------------------------------------------- notifications

  const notificationsSupported = "Notification" in window && routingStrings !== null;
  let notificationButton = null;

  function showNotificationState() {
    if (!notificationButton) {
      return;
    }
    const permission = window.Notification.permission;
    notificationButton.disabled = permission !== "default";
    if (permission === "granted") {
      notificationButton.textContent = routingStrings.notificationsOn;
    } else if (permission === "denied") {
      notificationButton.textContent = routingStrings.enableNotifications;
      notificationButton.title = routingStrings.notificationsBlocked;
    } else {
      notificationButton.textContent = routingStrings.enableNotifications;
    }
  }

  /** Add the header button that requests permission, which browsers allow only on a click. */
  function setUpNotificationButton() {
    const tools = document.querySelector(".header-tools");
    if (!notificationsSupported || !tools) {
      return;
    }
    notificationButton = document.createElement("button");
    notificationButton.type = "button";
    notificationButton.className = "notification-toggle";
    notificationButton.dataset.notificationToggle = "";
    notificationButton.addEventListener("click", () => {
      window.Notification.requestPermission().then(showNotificationState);
    });
    tools.insertBefore(notificationButton, tools.firstChild);
    showNotificationState();
  }

  /** Raise a browser notification, only while the console page is hidden. */
  function notify(title, conversationId) {
    if (
      !notificationsSupported ||
      window.Notification.permission !== "granted" ||
      document.visibilityState !== "hidden"
    ) {
      return;
    }
    // The text names no requester: notifications can show on a locked screen.
    const notification = new window.Notification(title, {
      body: strings.newChat,
      tag: conversationId,
    });
    notification.addEventListener("click", () => {
      window.focus();
      window.location.assign(chatUrl(conversationId));
      notification.close();
    });
  }

  // ---------------------------------------------------------------- queue

  const memberTeams = new Set(config.memberTeams);
  // Set from the hello frame; round-robin offers name agents by user id.
  let userId = null;
  // Waiting chats by id: {item, receivedAt, element}.
  const queue = new Map();
  const queueList = document.querySelector("[data-queue-list]");
  const queueTemplate = document.getElementById("queue-item-template");
  const queueEmpty = document.querySelector("[data-queue-empty]");
  const queueAlert = document.querySelector("[data-queue-alert]");
  const queueAnnouncer = document.querySelector("[data-queue-announcer]");
  let pendingAccept = null;

  function kindLabel(text) {
    const code = labels.kindCodes[text];
    return code ? labels.kinds[code] : text;
  }

  function serviceLabel(text) {
    return labels.services[text] || text;
  }

  function waitingSeconds(entry) {
    return entry.item.waiting_seconds + (Date.now() - entry.receivedAt) / 1000;
  }

  function updateQueueCount() {
    const count = queue.size;
    for (const badge of document.querySelectorAll("[data-queue-count]")) {
      badge.textContent = String(count);
      badge.hidden = count === 0;
    }
    document.title = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
    if (queueEmpty) {
      queueEmpty.hidden = count > 0;
    }
  }

  function showQueueAlert(text) {
    if (queueAlert) {
      queueAlert.textContent = text;
      queueAlert.hidden = !text;
    }
  }

  function buildQueueElement(item) {
    const element = queueTemplate.content.firstElementChild.cloneNode(true);
    element.dataset.conversation = item.id;
    const fields = {
      requester_name: item.requester_name,
      requester_identifier: item.requester_identifier,
      requester_kind: kindLabel(item.requester_kind),
      study_programme: item.study_programme || "—",
      service: serviceLabel(item.service),
      team: item.team,
      topic: item.topic,
    };
    for (const [name, value] of Object.entries(fields)) {
      const field = element.querySelector(`[data-field="${name}"]`);
      if (field) {
        field.textContent = value;
      }
    }
    const offer = element.querySelector('[data-field="offer"]');
    if (offer && routingStrings && isRoundRobin(item)) {
      offer.hidden = false;
      if (item.offered_to === null) {
        offer.textContent = routingStrings.waitingForAgent;
      } else if (item.offered_to === userId) {
        offer.textContent = routingStrings.offeredToYou;
        element.classList.add("queue-item-offered");
      } else {
        offer.textContent = routingStrings.offeredToOther;
      }
    }
    const acceptButton = element.querySelector("[data-accept]");
    if (mayAccept(item)) {
      acceptButton.addEventListener("click", () => accept(item.id, acceptButton));
    } else {
      acceptButton.remove();
    }
    element.querySelector("[data-open-chat]").href = chatUrl(item.id);
    return element;
  }

  function isRoundRobin(item) {
    return item.routing === "round_robin";
  }

  /** Tell whether this agent may accept: a member, and in round-robin the one offered. */
  function mayAccept(item) {
    if (!memberTeams.has(item.team)) {
      return false;
    }
    return !isRoundRobin(item) || item.offered_to === userId;
  }

  function renderWaiting(entry) {
    const field = entry.element && entry.element.querySelector('[data-field="waiting"]');
    if (field) {
      field.textContent = format(strings.waiting, {
        time: formatDuration(waitingSeconds(entry)),
      });
    }
  }

  function addQueueItem(item) {
    removeQueueItem(item.id);
    const entry = { item, receivedAt: Date.now(), element: null };
    queue.set(item.id, entry);
    if (queueList && queueTemplate) {
      entry.element = buildQueueElement(item);
      // Oldest first: a new item goes before the first one that is younger.
      const younger = Array.from(queue.values()).find(
        (other) => other.element && other.item.created > item.created,
      );
      queueList.insertBefore(entry.element, younger ? younger.element : null);
      renderWaiting(entry);
    }
    updateQueueCount();
  }

  function removeQueueItem(conversationId) {
    const entry = queue.get(conversationId);
    if (entry) {
      if (entry.element) {
        entry.element.remove();
      }
      queue.delete(conversationId);
    }
    updateQueueCount();
  }

  function resetQueue(items) {
    for (const conversationId of Array.from(queue.keys())) {
      removeQueueItem(conversationId);
    }
    for (const item of items) {
      addQueueItem(item);
    }
  }

  function accept(conversationId, button) {
    showQueueAlert("");
    if (!consoleSocket.send({ type: "accept", conversation: conversationId })) {
      showAlert(strings.offline);
      return;
    }
    pendingAccept = conversationId;
    if (button) {
      button.disabled = true;
    }
  }

  function handleAcceptError(frame) {
    const conversationId = pendingAccept;
    pendingAccept = null;
    showAlert(frame.message);
    if (frame.code === "already_taken" || frame.code === "not_found") {
      removeQueueItem(conversationId);
    }
    for (const button of document.querySelectorAll("[data-accept]")) {
      button.disabled = false;
    }
  }

  if (queueList) {
    window.setInterval(() => {
      for (const entry of queue.values()) {
        renderWaiting(entry);
      }
    }, 1000);
  }

  // ---------------------------------------------------------------- chat

  const chatConfig = config.chat || null;
  const log = document.querySelector("[data-message-log]");
  const messageTemplate = document.getElementById("message-template");
  const chatAlert = document.querySelector("[data-chat-alert]");
  const composer = document.querySelector("[data-composer]");
  const bodyInput = document.querySelector("[data-message-body]");
  const fileInput = document.querySelector("[data-attach-file]");
  const sendButton = document.querySelector("[data-send]");
  const composerError = document.querySelector("[data-composer-error]");
  const composerStatus = document.querySelector("[data-composer-status]");
  const typingElement = document.querySelector("[data-typing]");
  const seenSeqs = new Set();
  // Messages sent but not yet acknowledged, by client_id: {body, element}.
  const pending = new Map();
  let lastSeq = 0;
  let peerReadSeq = 0;
  let lastReadSent = 0;
  let readTimer = null;
  let typingSent = false;
  let typingTimer = null;
  let typingHideTimer = null;
  let chatEnded = false;

  function showAlert(text) {
    if (chatAlert) {
      chatAlert.textContent = text;
      chatAlert.hidden = !text;
    } else {
      showQueueAlert(text);
    }
  }

  function showComposerError(text) {
    if (composerError) {
      composerError.textContent = text;
      composerError.hidden = !text;
    }
  }

  function isNearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function updateReceipt(element) {
    const receipt = element.querySelector("[data-receipt]");
    if (!receipt || element.dataset.senderKind !== "agent") {
      return;
    }
    if (element.dataset.failed) {
      receipt.textContent = strings.notSent;
    } else if (!element.dataset.seq) {
      receipt.textContent = strings.sending;
    } else if (Number(element.dataset.seq) <= peerReadSeq) {
      receipt.textContent = strings.read;
    } else {
      receipt.textContent = strings.sent;
    }
  }

  function updateReceipts() {
    for (const element of log.querySelectorAll('[data-sender-kind="agent"]')) {
      updateReceipt(element);
    }
  }

  function fillMessage(element, message) {
    element.dataset.seq = String(message.seq);
    element.dataset.clientId = message.client_id;
    element.dataset.senderKind = message.sender_kind;
    element.className = `message message-${message.sender_kind}`;
    element.querySelector(".message-sender").textContent = message.sender_name;
    const time = element.querySelector(".message-time");
    time.textContent = message.time;
    time.dateTime = message.created;

    const body = element.querySelector(".message-body");
    if (body) {
      renderBody(body, message.body);
      body.hidden = !message.body;
    }
    fillAttachment(element, message.attachment);

    const receipt = element.querySelector("[data-receipt]");
    if (receipt) {
      receipt.hidden = message.sender_kind !== "agent";
    }
    updateReceipt(element);
  }

  /** Show a message's text with **bold** and links, formatted as the panel formats it. */
  function renderBody(element, text) {
    element.textContent = "";
    if (window.LayananRichText) {
      window.LayananRichText.render(element, text || "");
    } else {
      element.textContent = text || "";
    }
  }

  /** Show the download link and, for PNG and JPEG, the preview; drop what is unused. */
  function fillAttachment(element, attachment) {
    const attachmentLine = element.querySelector(".message-attachment");
    const preview = element.querySelector(".preview-link");
    if (attachment && attachmentLine) {
      const link = attachmentLine.querySelector("a");
      link.href = attachmentUrl(attachment.id);
      link.textContent = attachment.name;
      const size = attachmentLine.querySelector(".muted");
      size.textContent = `(${formatSize(attachment.size)})`;
    } else if (attachmentLine) {
      attachmentLine.remove();
    }

    if (attachment && attachment.inline && preview) {
      const inlineUrl = `${attachmentUrl(attachment.id)}?inline=1`;
      preview.href = inlineUrl;
      const image = preview.querySelector("img");
      image.src = inlineUrl;
      image.alt = attachment.name;
    } else if (preview) {
      preview.remove();
    }
  }

  function newMessageElement() {
    return messageTemplate.content.firstElementChild.cloneNode(true);
  }

  /** Put a stored message after every lower seq and before unsent ones. */
  function placeMessage(element, seq) {
    let before = null;
    for (const other of log.children) {
      if (other === element) {
        continue;
      }
      const otherSeq = other.dataset.seq ? Number(other.dataset.seq) : Infinity;
      if (otherSeq > seq) {
        before = other;
        break;
      }
    }
    log.insertBefore(element, before);
  }

  function handleMessage(message) {
    const stickToBottom = isNearBottom();
    const own = pending.get(message.client_id);
    if (own) {
      pending.delete(message.client_id);
      fillMessage(own.element, message);
      placeMessage(own.element, message.seq);
    } else if (seenSeqs.has(message.seq)) {
      const existing = log.querySelector(`[data-seq="${message.seq}"]`);
      if (existing && existing.dataset.provisional) {
        delete existing.dataset.provisional;
        fillMessage(existing, message);
      }
    } else {
      const element = newMessageElement();
      fillMessage(element, message);
      placeMessage(element, message.seq);
    }
    seenSeqs.add(message.seq);
    lastSeq = Math.max(lastSeq, message.seq);
    if (stickToBottom) {
      log.scrollTop = log.scrollHeight;
    }
    scheduleRead();
  }

  function handleAck(frame) {
    const own = pending.get(frame.client_id);
    if (!own) {
      return;
    }
    pending.delete(frame.client_id);
    if (seenSeqs.has(frame.seq)) {
      // Another copy with this seq is on screen already.
      own.element.remove();
      return;
    }
    // The broadcast copy fills in the server's time when it arrives.
    own.element.dataset.seq = String(frame.seq);
    own.element.dataset.provisional = "1";
    seenSeqs.add(frame.seq);
    lastSeq = Math.max(lastSeq, frame.seq);
    placeMessage(own.element, frame.seq);
    updateReceipt(own.element);
  }

  function sendPending() {
    for (const [clientId, entry] of pending) {
      if (
        !consoleSocket.send({
          type: "message",
          conversation: chatConfig.id,
          client_id: clientId,
          body: entry.body,
        })
      ) {
        return;
      }
    }
  }

  function sendMessage() {
    showComposerError("");
    const body = bodyInput.value;
    if (!body.trim()) {
      showComposerError(strings.emptyMessage);
      bodyInput.focus();
      return;
    }
    if (body.length > MAX_BODY_LENGTH) {
      showComposerError(strings.messageTooLong);
      bodyInput.focus();
      return;
    }

    const clientId = newClientId();
    const element = newMessageElement();
    const message = {
      seq: 0,
      client_id: clientId,
      sender_kind: "agent",
      sender_name: document.querySelector(".user-name")?.textContent || "",
      body,
      created: new Date().toISOString(),
      time: timeFormat.format(new Date()),
      attachment: null,
    };
    fillMessage(element, message);
    delete element.dataset.seq;
    updateReceipt(element);

    pending.set(clientId, { body, element });
    log.appendChild(element);
    log.scrollTop = log.scrollHeight;

    bodyInput.value = "";
    stopTyping();
    consoleSocket.send({
      type: "message",
      conversation: chatConfig.id,
      client_id: clientId,
      body,
    });
  }

  function handleChatError(frame) {
    const own = frame.client_id ? pending.get(frame.client_id) : null;
    if (own && FINAL_MESSAGE_ERRORS.has(frame.code)) {
      pending.delete(frame.client_id);
      own.element.dataset.failed = "1";
      updateReceipt(own.element);
    }
    showAlert(frame.message);
  }

  function stopTyping() {
    window.clearTimeout(typingTimer);
    if (typingSent) {
      typingSent = false;
      consoleSocket.send({
        type: "typing",
        conversation: chatConfig.id,
        active: false,
      });
    }
  }

  function noteTyping() {
    if (!typingSent && bodyInput.value.trim()) {
      typingSent = consoleSocket.send({
        type: "typing",
        conversation: chatConfig.id,
        active: true,
      });
    }
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(stopTyping, TYPING_IDLE_MILLISECONDS);
  }

  function showPeerTyping(active) {
    if (!typingElement) {
      return;
    }
    window.clearTimeout(typingHideTimer);
    typingElement.textContent = active
      ? format(strings.typing, { name: chatConfig.requesterName })
      : "";
    if (active) {
      // A lost "typing false" frame must not leave the indicator on for good.
      typingHideTimer = window.setTimeout(
        () => showPeerTyping(false),
        TYPING_SHOWN_MILLISECONDS,
      );
    }
  }

  function scheduleRead() {
    window.clearTimeout(readTimer);
    readTimer = window.setTimeout(sendRead, READ_DELAY_MILLISECONDS);
  }

  function sendRead() {
    if (!chatConfig.canReply || document.visibilityState !== "visible") {
      return;
    }
    if (lastSeq > lastReadSent) {
      if (
        consoleSocket.send({
          type: "read",
          conversation: chatConfig.id,
          seq: lastSeq,
        })
      ) {
        lastReadSent = lastSeq;
      }
    }
  }

  function disableComposer() {
    for (const control of [bodyInput, fileInput, sendButton]) {
      if (control) {
        control.disabled = true;
      }
    }
    stopTyping();
  }

  function applyState(state) {
    if (!state || state.id !== chatConfig.id) {
      return;
    }
    const statusElement = document.querySelector("[data-chat-status]");
    if (statusElement) {
      statusElement.textContent = labels.statuses[state.status] || state.status;
    }
    const agentElement = document.querySelector("[data-chat-agent]");
    if (agentElement) {
      agentElement.textContent = state.agent_name || "—";
    }
    peerReadSeq = Math.max(peerReadSeq, state.peer_read_seq || 0);
    updateReceipts();
    if (state.status !== "waiting") {
      for (const button of document.querySelectorAll("[data-accept]")) {
        button.hidden = true;
      }
    }
    if (state.status === "ended" && !chatEnded) {
      chatEnded = true;
      disableComposer();
      const endForm = document.querySelector("[data-end-form]");
      if (endForm) {
        endForm.hidden = true;
      }
      const transcriptForm = document.querySelector("[data-transcript-form]");
      if (transcriptForm) {
        transcriptForm.hidden = false;
      }
      const endedRow = document.querySelector("[data-ended-row]");
      if (endedRow) {
        endedRow.hidden = false;
        const endedBy = endedRow.querySelector("[data-ended-by]");
        if (!endedBy.textContent.trim()) {
          endedBy.textContent = labels.endedBy[state.ended_by] || state.ended_by;
        }
        endedRow.querySelector("[data-ended-reason]").textContent =
          labels.endedReasons[state.ended_by] || "";
      }
    }
    if (state.ticket_number) {
      showTicket(state.ticket_number);
    }
  }

  function showTicket(number) {
    const ticketForm = document.querySelector("[data-ticket-form]");
    if (ticketForm) {
      ticketForm.hidden = true;
      for (const button of ticketForm.querySelectorAll("button")) {
        button.disabled = true;
      }
    }
    const row = document.querySelector("[data-ticket-row]");
    if (row) {
      row.hidden = false;
      const link = row.querySelector("[data-ticket-link]");
      link.href = ticketUrl(number);
      link.textContent = format(strings.ticketLink, { number });
    }
  }

  async function uploadFile(file) {
    showComposerError("");
    if (file.size > chatConfig.uploadMaxBytes) {
      showComposerError(format(strings.fileTooLarge, { name: file.name }));
      return;
    }
    const data = new FormData();
    data.append("file", file);
    data.append("client_id", newClientId());
    composerStatus.textContent = format(strings.uploading, { name: file.name });
    fileInput.disabled = true;
    try {
      const response = await fetch(chatConfig.uploadUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      });
      let answer = null;
      try {
        answer = await response.json();
      } catch {
        answer = null;
      }
      if (response.ok && answer && answer.message) {
        handleMessage(answer.message);
      } else {
        const error = answer && answer.error;
        showComposerError(error ? error.message : strings.uploadFailed);
      }
    } catch {
      showComposerError(strings.uploadFailed);
    } finally {
      composerStatus.textContent = "";
      fileInput.value = "";
      fileInput.disabled = chatEnded;
    }
  }

  function setUpChat() {
    for (const element of log.querySelectorAll("[data-seq]")) {
      seenSeqs.add(Number(element.dataset.seq));
    }
    // The server renders message text escaped; this adds the formatting.
    for (const body of log.querySelectorAll(".message-body")) {
      renderBody(body, body.textContent);
    }

    lastSeq = chatConfig.lastSeq;
    peerReadSeq = chatConfig.peerReadSeq;
    chatEnded = chatConfig.status === "ended";
    log.scrollTop = log.scrollHeight;
    if (chatConfig.ticketNumber) {
      showTicket(chatConfig.ticketNumber);
    }
    if (composer && bodyInput) {
      composer.addEventListener("submit", (event) => {
        event.preventDefault();
        sendMessage();
      });
      bodyInput.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          sendMessage();
        }
      });
      bodyInput.addEventListener("input", noteTyping);
      bodyInput.addEventListener("blur", stopTyping);
    }
    if (fileInput) {
      fileInput.addEventListener("change", () => {
        if (fileInput.files && fileInput.files[0]) {
          uploadFile(fileInput.files[0]);
        }
      });
    }
    for (const button of document.querySelectorAll("[data-accept]")) {
      button.addEventListener("click", () => accept(chatConfig.id, button));
    }
    document.addEventListener("visibilitychange", scheduleRead);
    window.addEventListener("focus", scheduleRead);
  }

  function handleChatFrame(frame) {
    if (frame.conversation !== chatConfig.id && frame.type !== "state") {
      return;
    }
    switch (frame.type) {
      case "ready":
        applyState(frame.state);
        sendPending();
        scheduleRead();
        break;
      case "message":
        handleMessage(frame.message);
        break;
      case "ack":
        handleAck(frame);
        break;
      case "state":
        applyState(frame.conversation);
        break;
      case "typing":
        if (frame.sender_kind === "requester") {
          showPeerTyping(Boolean(frame.active));
        }
        break;
      case "read":
        if (frame.sender_kind === "requester") {
          peerReadSeq = Math.max(peerReadSeq, frame.seq);
          updateReceipts();
        }
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- frames

  function handleFrame(frame) {
    switch (frame.type) {
      case "hello":
        userId = frame.user_id;
        showStatus(frame.status);
        resetQueue(frame.queue || []);
        return;
      case "queue.updated": {
        const previous = queue.get(frame.item.id);
        const wasMine = Boolean(previous && previous.item.offered_to === userId);
        addQueueItem(frame.item);
        if (frame.item.offered_to === userId && !wasMine) {
          beep();
          if (routingStrings) {
            notify(routingStrings.offerTitle, frame.item.id);
          }
        }
        return;
      }
      case "transferred":
        if (chatConfig && frame.conversation === chatConfig.id) {
          // Who may reply changed: the server renders the page anew.
          window.location.reload();
        } else if (frame.agent_id === userId) {
          beep();
          if (routingStrings) {
            notify(routingStrings.transferTitle, frame.conversation);
          }
          if (config.page === "home") {
            window.location.reload();
          }
        }
        return;
      case "status":
        showStatus(frame.status);
        return;
      case "queue.added":
        addQueueItem(frame.item);
        // A round-robin chat rings only for the agent it is offered to, and that
        // offer arrives as a queue.updated frame.
        if (memberTeams.has(frame.item.team) && !isRoundRobin(frame.item)) {
          beep();
          if (routingStrings) {
            notify(routingStrings.newChatTitle, frame.item.id);
          }
          if (queueAnnouncer) {
            // The announcement names no one, so the requester's name appears once.
            queueAnnouncer.textContent = strings.newChat;
          }
        }
        return;
      case "queue.removed":
        removeQueueItem(frame.conversation);
        return;
      case "accepted":
        pendingAccept = null;
        if (chatConfig && frame.conversation === chatConfig.id) {
          window.location.reload();
        } else {
          window.location.assign(chatUrl(frame.conversation));
        }
        return;
      case "error":
        if (pendingAccept !== null && !frame.client_id) {
          handleAcceptError(frame);
        } else if (chatConfig) {
          handleChatError(frame);
        } else {
          showAlert(frame.message);
        }
        return;
      default:
        if (chatConfig) {
          handleChatFrame(frame);
        }
    }
  }

  const consoleSocket = new ConsoleSocket({
    open() {
      showConnection("");
      if (chatConfig) {
        consoleSocket.send({
          type: "subscribe",
          conversation: chatConfig.id,
          last_seq: lastSeq,
        });
      }
    },
    frame: handleFrame,
    close(code, stopped) {
      typingSent = false;
      if (chatConfig) {
        showPeerTyping(false);
      }
      showConnection(stopped ? strings.sessionExpired : strings.reconnecting);
    },
  });

  if (statusButton) {
    statusButton.addEventListener("click", () => {
      const wanted = agentStatus === "online" ? "away" : "online";
      if (!consoleSocket.send({ type: "status", status: wanted })) {
        showAlert(strings.offline);
      }
    });
  }

  if (chatConfig && log && messageTemplate) {
    setUpChat();
  }
  setUpNotificationButton();
  showStatus(agentStatus);
  updateQueueCount();
  showConnection(strings.connecting);
  consoleSocket.connect();
})();
