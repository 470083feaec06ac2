// Candour's one script. Everything works without it; with it, the cookie banner answers
// without a page reload, and scripts that wait for consent start once it is given.
(function () {
  "use strict";

  // Turn each <script type="text/plain" data-consent-category="…"> whose category is now
  // allowed into a running script. Each is started once.
  function startGatedScripts(granted) {
    var waiting = document.querySelectorAll('script[type="text/plain"][data-consent-category]');
    Array.prototype.forEach.call(waiting, function (inert) {
      if (granted.indexOf(inert.getAttribute("data-consent-category")) === -1) return;
      var live = document.createElement("script");
      live.src = inert.getAttribute("src");
      inert.parentNode.replaceChild(live, inert);
    });
  }

  function confirmation(banner, text, returnTo) {
    var box = document.createElement("div");
    box.className = "cookie-banner__message";
    box.id = "cookie-banner-confirmation";
    box.tabIndex = -1;
    box.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.appendChild(document.createTextNode(text + " You can "));
    var link = document.createElement("a");
    link.href = "/cookies";
    link.textContent = "change your cookie settings";
    p.appendChild(link);
    p.appendChild(document.createTextNode(" at any time."));
    var hide = document.createElement("button");
    hide.type = "button";
    hide.className = "button";
    hide.textContent = "Hide cookie message";
    hide.addEventListener("click", function () {
      banner.hidden = true;
    });
    box.appendChild(p);
    box.appendChild(hide);
    var inner = banner.querySelector(".width") || banner;
    inner.replaceChildren(box);
    box.focus();
  }

  function enhanceBanner() {
    var banner = document.getElementById("cookie-banner");
    if (!banner) return;
    var hideLink = banner.querySelector("[data-hide-banner]");
    if (hideLink) {
      hideLink.addEventListener("click", function (e) {
        e.preventDefault();
        banner.hidden = true;
        history.replaceState(null, "", hideLink.getAttribute("href"));
      });
    }
    var form = banner.querySelector("form.cookie-banner__form");
    if (!form || !window.fetch) return;
    form.addEventListener("submit", function (e) {
      var submitter = e.submitter;
      if (!submitter) return;
      e.preventDefault();
      var data = new URLSearchParams(new FormData(form));
      data.set(submitter.name, submitter.value);
      fetch(form.action, {
        method: "POST",
        body: data,
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (res) {
          if (!res.ok) throw new Error("status " + res.status);
          return res.json();
        })
        .then(function (answer) {
          var accepted = answer.granted.length > 0;
          confirmation(banner, accepted ? "You’ve accepted optional cookies." : "You’ve rejected optional cookies.");
          document.documentElement.setAttribute("data-consent", answer.granted.join(" "));
          startGatedScripts(answer.granted);
        })
        .catch(function () {
          // Fall back to the ordinary form post, which always works.
          var choice = document.createElement("input");
          choice.type = "hidden";
          choice.name = submitter.name;
          choice.value = submitter.value;
          form.appendChild(choice);
          form.submit();
        });
    });
  }

  function start() {
    var granted = (document.documentElement.getAttribute("data-consent") || "").split(" ").filter(Boolean);
    startGatedScripts(granted);
    enhanceBanner();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// After a form is sent back with errors, move focus to the summary of them, so the first
// thing read out is what went wrong (the GOV.UK pattern). Without JavaScript the summary
// is still the first thing on the page.
(function () {
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();

// A campaign that is scheduled or sending: its status and figures refresh every few seconds
// until it is sent (or taken back to draft). Without JavaScript the page has a link to refresh
// it by hand.
(function () {
  var box = document.querySelector("#campaign-progress[data-live]");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-progress-url");
  function field(name) {
    return box.querySelector('[data-field="' + name + '"]');
  }
  function update(p) {
    ["sent", "remaining", "failed", "skipped", "per_minute", "possible_duplicates"].forEach(function (name) {
      var cell = field(name);
      if (cell) cell.textContent = String(p[name]);
    });
    var status = document.getElementById("campaign-status");
    if (status) status.textContent = p.status;
    var eta = field("eta");
    if (eta) {
      if (p.state === "scheduled") {
        eta.textContent = "Sending starts at the time it is scheduled for.";
      } else if (p.state === "sending") {
        eta.textContent = p.eta_minutes === null ? "Working out how long is left." : "About " + p.eta_minutes + " minute" + (p.eta_minutes === 1 ? "" : "s") + " left.";
      } else {
        // Sent, or taken back to draft: the rest of the page (the report, the buttons) is
        // out of date, so offer to load it again.
        var again = document.createElement("a");
        again.href = window.location.pathname;
        again.textContent = p.state === "sent" ? "Refresh the page to see the report" : "Refresh the page";
        eta.replaceChildren(
          document.createTextNode(p.state === "sent" ? "Finished: every message was sent, failed or skipped. " : "The campaign is a draft again. "),
          again,
          document.createTextNode("."));
      }
    }
    return p.state === "scheduled" || p.state === "sending";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { if (p && update(p)) setTimeout(poll, 3000); })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, 1000);
})();

// The statistics dashboard's count of the last five minutes refreshes every half minute
// (without JavaScript it is as of the page's loading).
(function () {
  var box = document.querySelector("#stats-live[data-live-url]");
  if (!box || !window.fetch) return;
  var count = box.querySelector("[data-live-count]");
  var words = box.querySelector("[data-live-words]");
  function poll() {
    fetch(box.getAttribute("data-live-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p && typeof p.visitors === "number") {
          count.textContent = p.visitors.toLocaleString("en-GB");
          words.textContent = p.visitors === 1 ? "visitor" : "visitors";
        }
        setTimeout(poll, 30000);
      })
      .catch(function () { setTimeout(poll, 60000); });
  }
  setTimeout(poll, 30000);
})();

// "Copy link" beside the share links: only where the browser can copy.
(function () {
  var buttons = document.querySelectorAll("[data-copy-link]");
  Array.prototype.forEach.call(buttons, function (button) {
    if (!navigator.clipboard) return;
    var item = button.closest("li");
    if (item) item.hidden = false;
    var status = item ? item.querySelector(".share__copied") : null;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy-link")).then(
        function () { if (status) status.textContent = "Link copied."; },
        function () { if (status) status.textContent = "Could not copy. The address is " + button.getAttribute("data-copy-link"); });
    });
  });
})();
