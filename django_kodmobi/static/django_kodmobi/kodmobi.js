/* django-kodmobi: progressive enhancement for the login pages.
 * Everything works without this file; it adds channel-first card picking,
 * resend countdowns, paste-friendly code input and icon fallbacks. No inline
 * script is needed (CSP-safe) and nothing is loaded from elsewhere. */
(function () {
  "use strict";
  // The widget links this file itself; a page that links it too runs it once.
  if (window.kodmobiLoaded) { return; }
  window.kodmobiLoaded = true;

  function each(root, selector, callback) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), callback);
  }

  // Channel-first: a card clicked before anything is typed selects the
  // channel; the next "Send code" then sends there.
  function setUpCards(widget) {
    var input = widget.querySelector("[data-kodmobi-identifier]");
    var hidden = widget.querySelector("[data-kodmobi-channel-input]");
    var submit = widget.querySelector("[data-kodmobi-submit]");
    if (!input || !hidden || !submit) { return; }
    function select(card) {
      each(widget, "[data-kodmobi-card]", function (other) {
        other.setAttribute("aria-pressed", other === card ? "true" : "false");
      });
      hidden.value = card.value;
      submit.textContent = submit.getAttribute("data-kodmobi-label-via")
        .replace("%(channel)s", card.getAttribute("data-kodmobi-name"));
    }
    each(widget, "[data-kodmobi-card]", function (card) {
      // A page shown again after an error keeps the channel picked before.
      if (hidden.value && card.value === hidden.value) { select(card); }
      card.addEventListener("click", function (event) {
        if (input.value.trim() !== "") { return; }
        event.preventDefault();
        select(card);
        input.focus();
      });
    });
  }

  // Only the cards that can reach what is typed: email for an address,
  // the messengers and SMS for a phone. The server refuses the others
  // anyway; this spares a click that cannot work.
  function setUpCardFilter(widget) {
    var input = widget.querySelector("[data-kodmobi-identifier]");
    var hidden = widget.querySelector("[data-kodmobi-channel-input]");
    var submit = widget.querySelector("[data-kodmobi-submit]");
    if (!input || !hidden || !submit) { return; }
    var label = submit.textContent;
    function filter() {
      var typed = input.value.trim();
      var kind = typed.indexOf("@") !== -1 ? "email" : (/^[+\d(]/.test(typed) ? "phone" : "");
      each(widget, "[data-kodmobi-card]", function (card) {
        var isEmail = card.value === "email";
        card.hidden = (kind === "email" && !isEmail) || (kind === "phone" && isEmail);
        if (card.hidden && hidden.value === card.value) {
          // The channel picked first cannot reach what was typed after.
          hidden.value = "";
          card.setAttribute("aria-pressed", "false");
          submit.textContent = label;
        }
      });
    }
    input.addEventListener("input", filter);
    filter();
  }

  // Back from a messenger's bot ("Connect Telegram" opens it in a new tab):
  // show the channels as kod.mobi sees them now, not as it did a moment ago.
  function setUpConnectRefresh(root) {
    var refresh = root.querySelector("[data-kodmobi-refresh]");
    if (!refresh) { return; }
    var away = false;
    each(root, "[data-kodmobi-connect]", function (link) {
      link.addEventListener("click", function () { away = true; });
    });
    document.addEventListener("visibilitychange", function () {
      if (away && document.visibilityState === "visible") {
        window.location.assign(refresh.href);
      }
    });
  }

  // Resend buttons wait for their channel's timeout, counting down.
  function setUpCountdowns(root) {
    each(root, "[data-kodmobi-countdown]", function (button) {
      var left = parseInt(button.getAttribute("data-kodmobi-countdown"), 10) || 0;
      var wait = button.querySelector("[data-kodmobi-wait]");
      var seconds = button.querySelector("[data-kodmobi-seconds]");
      function render() {
        button.disabled = left > 0;
        if (wait) { wait.hidden = left <= 0; }
        if (seconds) { seconds.textContent = String(left); }
      }
      render();
      if (left <= 0) { return; }
      var timer = window.setInterval(function () {
        left -= 1;
        render();
        if (left <= 0) { window.clearInterval(timer); }
      }, 1000);
    });
  }

  // Codes arrive as "123 456" or "123-456"; keep what matters and send the
  // form once a whole code was pasted.
  function setUpCodeInput(root) {
    each(root, "[data-kodmobi-code]", function (input) {
      var length = parseInt(input.getAttribute("data-kodmobi-code-length"), 10) || 0;
      input.addEventListener("paste", function (event) {
        var text = (event.clipboardData || window.clipboardData).getData("text");
        var cleaned = text.replace(/[\s-]+/g, "");
        if (!cleaned) { return; }
        event.preventDefault();
        input.value = cleaned;
        if (length && cleaned.length === length && input.form) {
          if (input.form.requestSubmit) { input.form.requestSubmit(); } else { input.form.submit(); }
        }
      });
    });
  }

  // Icons come from kod.mobi; fall back to the bundled ones if they fail.
  function setUpIconFallbacks(root) {
    each(root, "img[data-kodmobi-fallback]", function (img) {
      function fallBack() {
        var local = img.getAttribute("data-kodmobi-fallback");
        if (local && img.getAttribute("src") !== local) { img.setAttribute("src", local); }
      }
      img.addEventListener("error", fallBack);
      if (img.complete && img.naturalWidth === 0) { fallBack(); }
    });
  }

  // A pasted code submits the form at once; an Enter right after would send
  // the same code again. The server logs in exactly one of them anyway, but
  // the browser shows the answer to the last, so send a code form once.
  function setUpSingleSubmit(root) {
    each(root, "[data-kodmobi-code-form]", function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-kodmobi-sent") === "true") {
          event.preventDefault();
          return;
        }
        form.setAttribute("data-kodmobi-sent", "true");
      });
    });
  }

  function init() {
    each(document, "[data-kodmobi-widget]", setUpCards);
    each(document, "[data-kodmobi-widget]", setUpCardFilter);
    setUpConnectRefresh(document);
    setUpCountdowns(document);
    setUpCodeInput(document);
    setUpSingleSubmit(document);
    setUpIconFallbacks(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
