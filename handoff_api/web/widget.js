// The IT help desk chat widget. Embed it with one tag:
//   <script src="https://helpdesk.example.com/widget.js" data-rasa-url="https://bot.example.com" defer></script>
// Optional attributes: data-title, data-open="true" (start open), data-lang.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__helpdeskWidgetLoaded) return;
  window.__helpdeskWidgetLoaded = true;
  var base = new URL(".", script.src);
  var data = script.dataset;
  var config = {
    // Served on the standard port (behind the proxy, which passes /socket.io/ to Rasa): this origin;
    // served by the service itself on its own port (make run): Rasa's port on the same host.
    rasaUrl: data.rasaUrl || (base.port ? base.protocol + "//" + base.hostname + ":5005" : base.origin),
    title: data.title || "IT help desk",
    startOpen: data.open === "true",
    socketPath: data.socketPath || "/socket.io",
    // The customer's language: the page's data-lang, else the browser's. The bot takes it as a hint.
    language: /^de\b/i.test(data.lang || navigator.language || "") ? "de" : "en",
    // The service this script came from: it keeps the engineers' replies a closed widget missed.
    serviceUrl: base.href,
  };
  function start() {
    import(new URL("web/widget/widget.mjs", base).href)
      .then(function (module) { module.mount(config); })
      .catch(function (error) { console.error("help desk widget failed to load", error); });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
