/* Layanan widget loader: a launcher button that opens the chat panel in an iframe.
 *
 * The loader runs first-party on the portal, so it keeps the chat token in the
 * portal's localStorage (a cross-site iframe may get none) and hands it to the
 * panel by postMessage. It checks the sender of every message it receives.
 *
 * A portal with signed-in users may add data-identity and data-signature to the
 * script tag (docs/protocol.md). The loader hands both to the panel unread, and
 * the server checks them.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.LayananWidget) return;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var baseOrigin = new URL(base).origin;
  var LANGUAGE_KEY = "layanan.chat.language";
  // A language the visitor chose in the panel wins over the portal's data-lang.
  var wanted = (storage("language") || script.getAttribute("data-lang") || navigator.language || "id").slice(0, 2).toLowerCase();
  var lang = wanted === "en" ? "en" : "id";
  var KEY = "layanan.chat.token";
  var identity = script.getAttribute("data-identity") || "";
  var signature = script.getAttribute("data-signature") || "";
  var labels = { id: ["Buka obrolan", "Sembunyikan obrolan"], en: ["Open chat", "Hide chat"] };
  var frame = null;
  var open = false;

  function storage(action, value) {
    try {
      if (action === "get") return window.localStorage.getItem(KEY);
      if (action === "language") return window.localStorage.getItem(LANGUAGE_KEY);
      if (action === "set-language") window.localStorage.setItem(LANGUAGE_KEY, value);
      if (action === "set") window.localStorage.setItem(KEY, value);
      if (action === "clear") window.localStorage.removeItem(KEY);
    } catch (error) {
      return null;
    }
    return null;
  }

  function style(element, rules) {
    for (var name in rules) element.style[name] = rules[name];
  }

  var button = document.createElement("button");
  button.type = "button";
  // A drawn icon, because a portal's fonts may have no emoji.
  var SVG = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  var bubble = document.createElementNS(SVG, "path");
  bubble.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  bubble.setAttribute("fill", "currentColor");
  icon.appendChild(bubble);
  button.appendChild(icon);
  style(button, {
    position: "fixed", right: "16px", bottom: "16px", width: "56px", height: "56px",
    borderRadius: "50%", border: "0", background: "#0f5c9a", color: "#fff",
    cursor: "pointer", boxShadow: "0 2px 10px rgba(0,0,0,.3)",
    zIndex: "2147483646", padding: "0", display: "flex", alignItems: "center",
    justifyContent: "center"
  });

  function setLabel() {
    var text = labels[lang][open ? 1 : 0];
    button.setAttribute("aria-label", text);
    button.title = text;
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function place() {
    if (!frame) return;
    var phone = window.innerWidth <= 480;
    style(frame, phone
      ? { right: "0", bottom: "0", width: "100%", height: "100%", borderRadius: "0" }
      : { right: "16px", bottom: "84px", width: "380px", height: "min(620px, calc(100vh - 100px))", borderRadius: "12px" });
    button.style.display = phone && open ? "none" : "flex";
  }

  function createFrame() {
    frame = document.createElement("iframe");
    frame.title = lang === "en" ? "Chat with us" : "Obrolan layanan";
    frame.src = base + "/widget/panel/?lang=" + lang + "&origin=" + encodeURIComponent(location.origin);
    frame.setAttribute("allow", "clipboard-write");
    style(frame, {
      position: "fixed", border: "0", background: "#fff", zIndex: "2147483647",
      boxShadow: "0 4px 24px rgba(0,0,0,.25)"
    });
    document.body.appendChild(frame);
  }

  function toggle(show) {
    open = show;
    if (open && !frame) createFrame();
    if (frame) frame.style.display = open ? "block" : "none";
    setLabel();
    place();
  }

  function post(message) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage(message, baseOrigin);
  }

  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== baseOrigin) return;
    var data = event.data || {};
    if (data.type === "layanan:ready") {
      post({ type: "layanan:token", token: storage("get"), identity: identity, signature: signature });
    }
    else if (data.type === "layanan:store-token" && typeof data.token === "string") storage("set", data.token);
    else if (data.type === "layanan:clear-token") storage("clear");
    else if (data.type === "layanan:hide") toggle(false);
    else if (data.type === "layanan:language" && (data.language === "id" || data.language === "en")) {
      lang = data.language;
      storage("set-language", lang);
      setLabel();
    }
  });

  button.addEventListener("click", function () { toggle(!open); });
  window.addEventListener("resize", place);

  function start() {
    document.body.appendChild(button);
    setLabel();
    // A chat under way reopens by itself after a reload of the portal page.
    if (storage("get")) toggle(true);
  }

  window.LayananWidget = { open: function () { toggle(true); } };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
