/* The requester's chat panel: pre-chat form, live chat, ending, offline request.
 *
 * Embedded in a portal, the panel lives in a cross-site iframe without storage, so
 * the loader keeps the chat token and hands it over by postMessage. As a standalone
 * page it keeps the token in its own localStorage. The socket protocol is described
 * in docs/protocol.md.
 *
 * A signed identity from the portal goes to the server with every services and
 * start request. Once the server has verified it, the form asks only for service
 * and topic. A rejected identity is reported with console.warn and the full form
 * is shown.
 *
 * While the pre-chat form shows, the panel re-reads the services endpoint every
 * config.servicesPollSeconds and when the page becomes visible again, so it
 * switches between live chat and the offline request as agents come and go. The
 * form's fields, the chosen service and the errors shown stay as they are.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("panel-config").textContent);
  var language = config.language;
  var strings = config.strings;
  var token = null;
  var socket = null;
  var retryDelay = 1000;
  var lastSeq = 0;
  var replayUntil = 0;       // the server's last seq when the socket became ready
  var conversation = null;
  var pending = {};          // client_id -> body, until the server acknowledges it
  var rendered = {};         // seq -> list item
  var peerReadSeq = 0;
  var services = [];
  var signedIdentity = null; // { identity, signature } from the portal's script tag
  var verified = null;       // the server's view of that identity once verified
  var IDENTITY_FIELDS = ["identifier", "name", "study_programme", "email"];
  var typingTimer = null;
  var typingSent = false;
  var pingTimer = null;
  var offlineMode = false;   // whether the form sends an offline request
  var pollTimer = null;
  var refreshing = false;    // a services poll is in flight
  var submitting = false;    // a start or offline request is in flight
  var servicesShown = "";    // the service and programme lists the selects hold
  var programmesShown = "";
  var ignoredIdentityReason = null;
  // The message of a 409 closed or team_offline response, which stops being true
  // once the panel offers live chat again.
  var availabilityError = "";
  var LANGUAGE_KEY = "layanan.chat.language";
  if (!config.embedded) {
    // The standalone page keeps the chosen language itself; in a portal the loader does.
    try {
      var chosen = window.localStorage.getItem(LANGUAGE_KEY);
      if ((chosen === "id" || chosen === "en") && !/[?&]lang=/.test(location.search)) language = chosen;
    } catch (error) { /* private mode */ }
  }
  // The client_id of the server's closing note, which gives the reason the chat ended
  // (chat/services.py).
  var ENDING_NOTE_ID = "system:ended";

  function $(id) { return document.getElementById(id); }
  function t(key, values) {
    var text = (strings[language] || strings.id)[key] || key;
    for (var name in values || {}) text = text.split("{" + name + "}").join(String(values[name]));
    return text;
  }

  /* ---- token storage ---- */
  function saveToken(value) {
    token = value;
    if (config.embedded) postToPortal({ type: "layanan:store-token", token: value });
    else try { window.localStorage.setItem(config.tokenKey, value); } catch (error) { /* private mode */ }
  }
  function clearToken() {
    token = null;
    if (config.embedded) postToPortal({ type: "layanan:clear-token" });
    else try { window.localStorage.removeItem(config.tokenKey); } catch (error) { /* private mode */ }
  }
  function postToPortal(message) {
    if (config.embedded && config.portalOrigin && window.parent !== window) {
      window.parent.postMessage(message, config.portalOrigin);
    }
  }
  function loadToken(callback) {
    if (!config.embedded) {
      var stored = null;
      try { stored = window.localStorage.getItem(config.tokenKey); } catch (error) { stored = null; }
      callback(stored);
      return;
    }
    var answered = false;
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || event.origin !== config.portalOrigin) return;
      var data = event.data || {};
      if (data.type === "layanan:token" && !answered) {
        answered = true;
        if (typeof data.identity === "string" && data.identity) {
          signedIdentity = { identity: data.identity, signature: typeof data.signature === "string" ? data.signature : "" };
        }
        callback(typeof data.token === "string" && data.token ? data.token : null);
      }
    });
    postToPortal({ type: "layanan:ready" });
    setTimeout(function () { if (!answered) { answered = true; callback(null); } }, 1500);
  }

  /* ---- language ---- */
  function applyLanguage() {
    document.documentElement.lang = language;
    document.querySelectorAll("[data-text]").forEach(function (element) {
      element.textContent = t(element.getAttribute("data-text"));
    });
    document.querySelectorAll("[data-label]").forEach(function (element) {
      element.setAttribute("aria-label", t(element.getAttribute("data-label")));
      element.title = t(element.getAttribute("data-label"));
    });
    document.querySelectorAll("[data-title]").forEach(function (element) {
      element.title = t(element.getAttribute("data-title"));
    });
    document.querySelectorAll("[data-placeholder]").forEach(function (element) {
      element.placeholder = t(element.getAttribute("data-placeholder"));
    });
    $("language-switch").value = language;
    fillServices();
    updateOfflineMode();
    renderIdentity();
    renderStatus();
    renderReceipts();
    postToPortal({ type: "layanan:language", language: language });
  }

  /* ---- views ---- */
  function show(view) {
    ["view-loading", "view-form", "view-chat", "view-ended", "view-done"].forEach(function (id) {
      $(id).hidden = id !== view;
    });
    $("close-button").hidden = view !== "view-chat";
    if (view === "view-form") startPolling();
    else stopPolling();
  }
  function notice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  /* ---- HTTP ---- */
  function api(method, path, body, isForm, extraHeaders) {
    var headers = { "Accept": "application/json" };
    if (token) headers["X-Layanan-Token"] = token;
    for (var name in extraHeaders || {}) headers[name] = extraHeaders[name];
    if (body && !isForm) headers["Content-Type"] = "application/json";
    var separator = path.indexOf("?") === -1 ? "?" : "&";
    return fetch(path + separator + "lang=" + language, {
      method: method,
      headers: headers,
      body: body ? (isForm ? body : JSON.stringify(body)) : undefined,
      credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  /* ---- pre-chat form ---- */
  function fillServices() {
    var select = $("f-service");
    var chosen = select.value;
    select.textContent = "";
    select.appendChild(option("", t("choose")));
    services.forEach(function (service) {
      select.appendChild(option(String(service.id), service.names[language] || service.names.id));
    });
    select.value = chosen;
    var programme = $("f-study_programme");
    if (programme.options.length) programme.options[0].textContent = t("choose");
    var none = programme.querySelector('option[value="none"]');
    if (none) none.textContent = t("notStudent");
  }
  function option(value, text) {
    var element = document.createElement("option");
    element.value = value;
    element.textContent = text;
    return element;
  }
  function identityHeaders() {
    if (!signedIdentity) return {};
    return { "X-Layanan-Identity": signedIdentity.identity, "X-Layanan-Signature": signedIdentity.signature };
  }
  function loadServices() {
    return api("GET", "/api/chat/services/", null, false, identityHeaders()).then(function (result) {
      if (result.status !== 200) return;
      services = result.data.services || [];
      acceptIdentity(result.data.identity);
      fillProgrammes(result.data.programmes || []);
      // Rebuilding a select closes its list if the requester has it open, so a
      // poll rebuilds only a list that changed.
      var listed = JSON.stringify(services.map(function (service) { return [service.id, service.names]; }));
      if (listed !== servicesShown) {
        servicesShown = listed;
        fillServices();
      }
      updateOfflineMode();
    });
  }
  function fillProgrammes(programmes) {
    var listed = JSON.stringify(programmes);
    if (listed === programmesShown) return;
    programmesShown = listed;
    var programme = $("f-study_programme");
    var chosen = programme.value;
    programme.textContent = "";
    programme.appendChild(option("", t("choose")));
    programmes.forEach(function (item) {
      programme.appendChild(option(String(item.id), item.name));
    });
    programme.appendChild(option("none", t("notStudent")));
    programme.value = chosen;
  }

  /* ---- following presence and opening hours ---- */
  function startPolling() {
    stopPolling();
    pollTimer = setInterval(refreshServices, (config.servicesPollSeconds || 20) * 1000);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }
  function refreshServices() {
    // A hidden page skips the poll, and the visibilitychange handler reads again
    // when it shows.
    if ($("view-form").hidden || refreshing || submitting || document.visibilityState === "hidden") return;
    refreshing = true;
    loadServices()
      .catch(function () { /* unreachable now: the next poll tries again */ })
      .then(function () { refreshing = false; });
  }
  function selectedService() {
    var id = $("f-service").value;
    for (var i = 0; i < services.length; i++) if (String(services[i].id) === id) return services[i];
    return null;
  }
  function setOffline(offline) {
    offlineMode = offline;
    // A message typed for an offline request stays in view when live chat becomes
    // possible, and goes to the agent as the chat's first message.
    var carried = !offline && Boolean($("f-message").value.trim());
    $("offline-part").hidden = !offline && !carried;
    if (carried) $("offline-notice").textContent = t("messageCarried");
    $("offline-button").hidden = !offline;
    $("start-button").hidden = offline;
    if (!offline && availabilityError && $("e-form").textContent === availabilityError) {
      $("e-form").textContent = "";
    }
    if (!offline) availabilityError = "";
  }
  function closedText(service) {
    return (service.closed_notice && service.closed_notice[language]) || "";
  }
  function updateOfflineMode() {
    var service = selectedService();
    var allClosed = services.length > 0 && services.every(function (item) { return item.open === false; });
    // Teams usually share one calendar, so a desk closed for every service says so
    // before a service is chosen.
    var general = allClosed ? closedText(services[0]) : "";
    $("closed-notice").textContent = general;
    $("closed-notice").hidden = !general;
    var closed = service ? service.open === false : allClosed;
    if (closed) {
      var text = service ? closedText(service) : general;
      $("offline-notice").textContent = (text && text !== general ? text + " " : "") + t("closedOffline");
    } else {
      $("offline-notice").textContent = t("offlineNotice");
    }
    setOffline(allClosed || Boolean(service && (closed || !service.team_online)));
  }
  function acceptIdentity(answer) {
    verified = null;
    if (answer && answer.verified) verified = answer;
    else if (answer && answer.reason !== ignoredIdentityReason) {
      // Each poll returns the rejection again, so it is reported once.
      console.warn("Layanan widget: the signed identity was ignored: " + answer.reason);
    }
    ignoredIdentityReason = answer && !answer.verified ? answer.reason : null;
    renderIdentity();
  }
  function renderIdentity() {
    IDENTITY_FIELDS.forEach(function (field) {
      document.querySelector('#view-form [data-field="' + field + '"]').hidden = Boolean(verified);
    });
    $("signed-in").hidden = !verified;
    $("signed-in").textContent = verified ? t("signedInAs", { name: verified.name, identifier: verified.identifier }) : "";
    if (verified) {
      // The hidden fields keep the verified values, so the transcript address is
      // prefilled and a fallback to the full form starts filled in.
      $("f-identifier").value = verified.identifier;
      $("f-name").value = verified.name;
      $("f-email").value = verified.email;
    }
  }
  function clearErrors() {
    document.querySelectorAll("#view-form .error").forEach(function (element) { element.textContent = ""; });
    document.querySelectorAll("#view-form [aria-invalid]").forEach(function (element) {
      element.removeAttribute("aria-invalid");
    });
  }
  function showErrors(errors) {
    var first = null;
    Object.keys(errors).forEach(function (field) {
      var target = $("e-" + field) || $("e-form");
      target.textContent = errors[field].map(function (error) { return error.message; }).join(" ");
      var input = $("f-" + field);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", "e-" + field);
        if (!first) first = input;
      }
    });
    if (first) first.focus();
  }
  function formValues() {
    var values = { page_url: document.referrer || "" };
    ["identifier", "name", "study_programme", "email", "service", "topic", "message"].forEach(function (field) {
      values[field] = $("f-" + field).value;
    });
    if (signedIdentity) {
      values.identity = signedIdentity.identity;
      values.signature = signedIdentity.signature;
    }
    return values;
  }
  function submitForm(event) {
    event.preventDefault();
    clearErrors();
    var offline = offlineMode;
    var button = offline ? $("offline-button") : $("start-button");
    button.disabled = true;
    submitting = true;
    api("POST", offline ? "/api/chat/offline/" : "/api/chat/start/", formValues())
      .then(function (result) {
        var errorCode = result.status === 409 && result.data.error ? result.data.error.code : null;
        if (result.status === 201 && offline) {
          $("f-message").value = "";
          $("done-text").textContent = t("offlineDone", { number: result.data.ticket_number });
          show("view-done");
        } else if (result.status === 201) {
          var firstMessage = $("f-message").value;
          $("f-message").value = "";
          saveToken(result.data.token);
          conversation = result.data.conversation;
          startChat();
          if (firstMessage.trim()) queueMessage(firstMessage);
        } else if (errorCode === "team_offline" || errorCode === "closed") {
          // The form switches to the offline request and keeps every typed value.
          var service = selectedService();
          if (service && errorCode === "team_offline") service.team_online = false;
          if (service && errorCode === "closed") service.open = false;
          updateOfflineMode();
          if (!offlineMode) setOffline(true);
          availabilityError = result.data.error.message;
          $("e-form").textContent = availabilityError;
        } else if (result.data.errors) {
          if (verified && result.data.identity_verified !== true && IDENTITY_FIELDS.some(function (field) { return result.data.errors[field]; })) {
            // The identity expired or was revoked since the form loaded.
            acceptIdentity({ verified: false, reason: "the server no longer accepts it" });
          }
          showErrors(result.data.errors);
        } else {
          $("e-form").textContent = (result.data.error && result.data.error.message) || t("networkError");
        }
      })
      .catch(function () { $("e-form").textContent = t("networkError"); })
      .then(function () {
        button.disabled = false;
        submitting = false;
      });
  }

  /* ---- chat ---- */
  function startChat() {
    lastSeq = 0;
    rendered = {};
    $("messages").textContent = "";
    $("ended-reason").textContent = "";
    $("f-transcript-email").value = $("f-email").value || "";
    show("view-chat");
    renderStatus();
    connect();
  }
  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/chat/";
  }
  function connect() {
    if (!token) return;
    socket = new WebSocket(socketUrl());
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ type: "auth", token: token, last_seq: lastSeq }));
    });
    socket.addEventListener("message", function (event) { receive(JSON.parse(event.data)); });
    socket.addEventListener("close", function (event) {
      clearInterval(pingTimer);
      if (event.code === 4401 || event.code === 4404) {
        clearToken();
        showForm();
        return;
      }
      if (!token || (conversation && conversation.status === "ended")) return;
      notice(t("reconnecting"));
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
  function receive(frame) {
    if (frame.type === "ready") {
      retryDelay = 1000;
      replayUntil = frame.last_seq || 0;
      notice("");
      conversation = frame.conversation;
      peerReadSeq = conversation.peer_read_seq;
      if (!$("f-transcript-email").value) $("f-transcript-email").value = conversation.email || "";
      if (conversation.status === "ended") { showEnded(); return; }
      show("view-chat");
      renderStatus();
      Object.keys(pending).forEach(function (clientId) {
        send({ type: "message", client_id: clientId, body: pending[clientId] });
      });
      pingTimer = setInterval(function () { send({ type: "ping" }); }, 25000);
    } else if (frame.type === "message") {
      addMessage(frame.message);
    } else if (frame.type === "ack") {
      delete pending[frame.client_id];
    } else if (frame.type === "state") {
      conversation = frame.conversation;
      renderStatus();
      if (conversation.status === "ended") showEnded();
    } else if (frame.type === "typing") {
      $("typing").hidden = !frame.active;
    } else if (frame.type === "read") {
      peerReadSeq = Math.max(peerReadSeq, frame.seq);
      renderReceipts();
    } else if (frame.type === "error") {
      if (frame.client_id) { delete pending[frame.client_id]; dropPending(frame.client_id); }
      $("e-composer").textContent = frame.message;
    }
  }
  function renderStatus() {
    if (!conversation) return;
    var text = "";
    if (conversation.status === "waiting") text = t("waiting", { position: conversation.queue_position || 1 });
    else if (conversation.status === "active" && conversation.agent_name) text = t("connected", { name: conversation.agent_name });
    if (conversation.ticket_number) text += (text ? " · " : "") + t("ticket", { number: conversation.ticket_number });
    $("chat-status").textContent = text;
  }
  function addMessage(message) {
    dropPending(message.client_id);
    if (rendered[message.seq]) return;
    lastSeq = Math.max(lastSeq, message.seq);
    var item = document.createElement("li");
    item.className = "message from-" + message.sender_kind;
    item.dataset.seq = message.seq;
    if (message.sender_kind !== "system") {
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = message.sender_name + " · " + message.time;
      item.appendChild(meta);
    }
    var body = document.createElement("div");
    body.className = "body";
    window.LayananRichText.render(body, message.body || "");
    item.appendChild(body);
    if (message.attachment) item.appendChild(attachmentElement(message.attachment));
    if (message.sender_kind === "requester") {
      var receipt = document.createElement("span");
      receipt.className = "receipt";
      item.appendChild(receipt);
    }
    if (message.client_id === ENDING_NOTE_ID) $("ended-reason").textContent = message.body || "";
    var list = $("messages");
    var after = null;
    for (var i = 0; i < list.children.length; i++) {
      var child = list.children[i];
      if (child.classList.contains("pending") || Number(child.dataset.seq) > message.seq) { after = child; break; }
    }
    list.insertBefore(item, after);
    rendered[message.seq] = item;
    renderReceipts();
    list.scrollTop = list.scrollHeight;
    markRead();
    closeIfEnded();
  }
  function renderReceipts() {
    Object.keys(rendered).forEach(function (seq) {
      var receipt = rendered[seq].querySelector(".receipt");
      if (receipt) receipt.textContent = Number(seq) <= peerReadSeq ? t("read") : t("sent");
    });
  }
  function markRead() {
    if (document.visibilityState === "visible" && lastSeq) send({ type: "read", seq: lastSeq });
  }
  function attachmentElement(attachment) {
    var wrapper = document.createElement("div");
    wrapper.className = "attachment";
    var link = document.createElement("a");
    link.href = "#";
    link.textContent = attachment.name + " (" + formatSize(attachment.size) + ")";
    link.setAttribute("aria-label", t("download") + ": " + attachment.name);
    link.addEventListener("click", function (event) {
      event.preventDefault();
      fetchFile(attachment, false).then(function (url) {
        var anchor = document.createElement("a");
        anchor.href = url;
        anchor.download = attachment.name;
        document.body.appendChild(anchor);
        anchor.click();
        anchor.remove();
      });
    });
    wrapper.appendChild(link);
    if (attachment.inline) {
      fetchFile(attachment, true).then(function (url) {
        var image = document.createElement("img");
        image.src = url;
        image.alt = attachment.name;
        wrapper.appendChild(image);
      });
    }
    return wrapper;
  }
  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KiB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MiB";
  }
  function fetchFile(attachment, inline) {
    // A link cannot carry the token header, so the file comes through fetch.
    return fetch("/api/chat/attachments/" + attachment.id + "/" + (inline ? "?inline=1" : ""), {
      headers: { "X-Layanan-Token": token },
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error("download failed");
      return response.blob();
    }).then(function (blob) { return URL.createObjectURL(blob); });
  }
  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function sendMessage(event) {
    event.preventDefault();
    var input = $("message-input");
    var body = input.value;
    $("e-composer").textContent = "";
    if (!body.trim()) { $("e-composer").textContent = t("emptyMessage"); return; }
    if (body.length > 4000) { $("e-composer").textContent = t("tooLong", { count: body.length }); return; }
    queueMessage(body);
    input.value = "";
    stopTyping();
  }
  function queueMessage(body) {
    // Sent now if the socket is open, else on the next "ready".
    var clientId = newClientId();
    pending[clientId] = body;
    showPending(clientId, body);
    send({ type: "message", client_id: clientId, body: body });
  }
  function showPending(clientId, body) {
    // Shown at once, marked as sending, until the stored copy arrives with its seq.
    var item = document.createElement("li");
    item.className = "message from-requester pending";
    item.dataset.clientId = clientId;
    var text = document.createElement("div");
    text.className = "body";
    text.textContent = body;
    item.appendChild(text);
    var receipt = document.createElement("span");
    receipt.className = "receipt";
    receipt.textContent = t("sending");
    item.appendChild(receipt);
    $("messages").appendChild(item);
    $("messages").scrollTop = $("messages").scrollHeight;
  }
  function dropPending(clientId) {
    var item = document.querySelector('#messages li.pending[data-client-id="' + CSS.escape(clientId) + '"]');
    if (item) item.remove();
  }
  function onTyping() {
    if (!typingSent) { send({ type: "typing", active: true }); typingSent = true; }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) send({ type: "typing", active: false });
    typingSent = false;
  }
  function uploadFile() {
    var input = $("file-input");
    var file = input.files[0];
    input.value = "";
    if (!file) return;
    $("e-composer").textContent = "";
    if (file.size > config.uploadMaxBytes) {
      $("e-composer").textContent = t("fileTooLarge", { name: file.name, max: config.uploadMaxMb });
      return;
    }
    var form = new FormData();
    form.append("file", file);
    form.append("client_id", newClientId());
    notice(t("uploading", { name: file.name }));
    api("POST", "/api/chat/upload/", form, true).then(function (result) {
      notice("");
      if (result.status === 201) addMessage(result.data.message);
      else $("e-composer").textContent = (result.data.error && result.data.error.message) || t("uploadFailed");
    }).catch(function () {
      notice("");
      $("e-composer").textContent = t("uploadFailed");
    });
  }

  /* ---- ending ---- */
  function openEndDialog() {
    $("e-end").textContent = "";
    $("e-end-email").textContent = "";
    var dialog = $("end-dialog");
    $("end-confirm").textContent = conversation && conversation.status === "ended" ? t("save") : t("endChat");
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
  }
  function closeEndDialog() {
    var dialog = $("end-dialog");
    if (dialog.close) dialog.close(); else dialog.removeAttribute("open");
  }
  function confirmEnd(event) {
    event.preventDefault();
    var body = {
      send_transcript: $("f-send-transcript").checked,
      email: $("f-transcript-email").value,
      rating: $("f-rating").value,
      comment: $("f-comment").value
    };
    $("end-confirm").disabled = true;
    api("POST", "/api/chat/end/", body).then(function (result) {
      if (result.status === 200) {
        closeEndDialog();
        conversation = result.data.conversation;
        showEnded(true);
      } else if (result.data.errors) {
        var errors = result.data.errors;
        if (errors.email) $("e-end-email").textContent = errors.email[0].message;
        if (errors.rating) $("e-end").textContent = errors.rating[0].message;
      } else {
        $("e-end").textContent = (result.data.error && result.data.error.message) || t("networkError");
      }
    }).catch(function () { $("e-end").textContent = t("networkError"); })
      .then(function () { $("end-confirm").disabled = false; });
  }
  function showEnded(answered) {
    stopTyping();
    clearInterval(pingTimer);
    closeIfEnded();
    $("ended-text").textContent = answered ? t("saved") : t("ended");
    $("ended-ticket").textContent = conversation && conversation.ticket_number ? t("ticket", { number: conversation.ticket_number }) : "";
    show("view-ended");
    if (answered) clearToken();
    else {
      // Ended by the agent or the idle timer: offer the transcript and rating once.
      $("close-button").hidden = false;
    }
  }
  function closeIfEnded() {
    // An ended chat's socket stays open until the replay after "ready" has
    // delivered every message, the closing note among them.
    if (socket && conversation && conversation.status === "ended" && lastSeq >= replayUntil) socket.close();
  }
  function showForm() {
    conversation = null;
    pending = {};
    notice("");
    show("view-form");
    loadServices();
  }
  function newChat() {
    clearToken();
    showForm();
  }

  /* ---- wiring ---- */
  $("language-switch").addEventListener("change", function (event) {
    language = event.target.value === "en" ? "en" : "id";
    if (!config.embedded) {
      try { window.localStorage.setItem(LANGUAGE_KEY, language); } catch (error) { /* private mode */ }
    }
    applyLanguage();
  });
  $("view-form").addEventListener("submit", submitForm);
  $("f-service").addEventListener("change", updateOfflineMode);
  $("composer").addEventListener("submit", sendMessage);
  $("message-input").addEventListener("input", onTyping);
  $("message-input").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) sendMessage(event);
  });
  $("file-input").addEventListener("change", uploadFile);
  $("close-button").addEventListener("click", openEndDialog);
  $("end-cancel").addEventListener("click", closeEndDialog);
  $("end-form").addEventListener("submit", confirmEnd);
  $("new-chat-button").addEventListener("click", newChat);
  $("done-new-chat").addEventListener("click", newChat);
  if ($("hide-button")) $("hide-button").addEventListener("click", function () { postToPortal({ type: "layanan:hide" }); });
  document.addEventListener("visibilitychange", markRead);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refreshServices();
  });

  applyLanguage();
  loadToken(function (stored) {
    if (stored) {
      token = stored;
      show("view-chat");
      connect();
    } else {
      showForm();
    }
  });
})();
