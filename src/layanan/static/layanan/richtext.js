/* Safe rendering of chat text: **bold** and http(s) links, everything else as text.
 * Nodes are built with textContent, so no markup a user typed is ever parsed. */
(function () {
  "use strict";
  var TOKEN = /(\*\*[^*\n]+\*\*)|(https?:\/\/[^\s<>"']+)/g;

  function render(container, text) {
    var last = 0;
    var match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      if (match.index > last) container.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1]) {
        var strong = document.createElement("strong");
        strong.textContent = match[1].slice(2, -2);
        container.appendChild(strong);
      } else {
        var url = match[2].replace(/[.,;:!?)]+$/, "");
        var link = document.createElement("a");
        link.href = url;
        link.textContent = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer nofollow";
        container.appendChild(link);
        TOKEN.lastIndex = match.index + url.length;
      }
      last = TOKEN.lastIndex;
    }
    if (last < text.length) container.appendChild(document.createTextNode(text.slice(last)));
  }

  window.LayananRichText = { render: render };
})();
