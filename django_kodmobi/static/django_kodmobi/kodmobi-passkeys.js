/* django-kodmobi: passkeys on the login page and after a code.
 * WebAuthn needs JavaScript; without this file the pages log in by code,
 * as they always did. No inline script (CSP-safe); nothing from elsewhere.
 * The server's options are WebAuthn's JSON form; the credential goes back
 * as JSON (PublicKeyCredential.toJSON, or the same built by hand). */
(function () {
  "use strict";
  if (window.kodmobiPasskeysLoaded) { return; }
  window.kodmobiPasskeysLoaded = true;
  if (!window.PublicKeyCredential || !navigator.credentials) { return; }

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBuffer(item.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: withIds(json.allowCredentials)
    });
  }

  function credentialJson(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      json.response.userHandle = toText(response.userHandle);
    }
    return json;
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.detail || response.statusText); }
        return data;
      });
    });
  }

  function showError(root, error) {
    var box = root.querySelector("[data-kodmobi-passkey-error]");
    // The person closed the prompt: nothing to say.
    if (!box || (error && (error.name === "NotAllowedError" || error.name === "AbortError"))) { return; }
    box.textContent = error && error.message ? error.message : String(error);
    box.hidden = false;
  }

  // The login: autofill offers this site's passkeys in the identifier field
  // (conditional mediation) and the button asks for one outright.
  function setUpLogin(root) {
    var pending = null;
    function logIn(mediation) {
      if (pending) { pending.abort(); }
      pending = window.AbortController ? new AbortController() : null;
      var signal = pending ? pending.signal : undefined;
      return post(root.getAttribute("data-options")).then(function (options) {
        var request = { publicKey: requestOptions(options.publicKey), signal: signal };
        if (mediation) { request.mediation = mediation; }
        return navigator.credentials.get(request);
      }).then(function (credential) {
        return post(root.getAttribute("data-verify"), { credential: credentialJson(credential) });
      }).then(function (done) {
        window.location.assign(done.redirect);
      });
    }
    root.hidden = false;
    root.querySelector("[data-kodmobi-passkey-button]").addEventListener("click", function () {
      logIn(null).catch(function (error) { showError(root, error); });
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (yes) {
        // A prompt closed or aborted says nothing; a refusal is shown.
        if (yes) { logIn("conditional").catch(function (error) { showError(root, error); }); }
      });
    }
  }

  // After a code: one button creates the passkey; where the browser can,
  // it is offered without one (conditional creation).
  function setUpOffer(root) {
    var button = root.querySelector("[data-kodmobi-passkey-create]");
    var pending = null;
    function create(mediation) {
      if (pending) { pending.abort(); }
      pending = window.AbortController ? new AbortController() : null;
      return post(root.getAttribute("data-options")).then(function (options) {
        var request = {
          publicKey: creationOptions(options.publicKey),
          signal: pending ? pending.signal : undefined
        };
        if (mediation) { request.mediation = mediation; }
        return navigator.credentials.create(request);
      }).then(function (credential) {
        return post(root.getAttribute("data-verify"), { credential: credentialJson(credential) });
      }).then(function (done) {
        window.location.assign(done.redirect);
      });
    }
    root.querySelector("[data-kodmobi-passkey-unsupported]").hidden = true;
    button.hidden = false;
    button.addEventListener("click", function () {
      create(null).catch(function (error) { showError(root, error); });
    });
    if (PublicKeyCredential.getClientCapabilities) {
      PublicKeyCredential.getClientCapabilities().then(function (can) {
        if (can && can.conditionalCreate) { create("conditional").catch(function () {}); }
      }).catch(function () {});
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-kodmobi-passkey-login]"), setUpLogin);
    Array.prototype.forEach.call(document.querySelectorAll("[data-kodmobi-passkey-offer]"), setUpOffer);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
