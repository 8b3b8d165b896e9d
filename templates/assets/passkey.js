// Passkeys (WebAuthn) on Latchkey's pages: registering one on /account,
// signing in with one (passwordless, or as the second factor). Served from
// the issuer's own origin so the pages keep a strict CSP (no inline script).
//
// A button with data-passkey="register" or "sign-in" sits in a form with
// data-options (where to ask for a challenge) and hidden fields `ceremony`
// and `credential`. On a click the form's fields are posted to data-options,
// the browser runs the ceremony with the options returned, and the form is
// submitted with the answer; the server checks it. Errors go to the
// role="alert" element marked data-passkey-error.
"use strict";
(function () {
  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function showError(message) {
    var box = document.querySelector("[data-passkey-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }
  function creationOptions(pk) {
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return pk;
  }
  function requestOptions(pk) {
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return pk;
  }
  function registration(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      response: {
        attestationObject: toB64url(r.attestationObject),
        clientDataJSON: toB64url(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }
  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }
  function run(button) {
    var form = button.form, kind = button.getAttribute("data-passkey");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError("This browser does not support passkeys.");
      return;
    }
    if (kind === "register" && !form.reportValidity()) return;
    button.disabled = true;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-options"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      return res.json().then(function (json) {
        if (!res.ok) throw new Error(json.error || "The passkey request failed.");
        return json;
      });
    }).then(function (challenge) {
      var pk = challenge.options.publicKey;
      var op = kind === "register"
        ? navigator.credentials.create({ publicKey: creationOptions(pk) }).then(registration)
        : navigator.credentials.get({ publicKey: requestOptions(pk) }).then(assertion);
      return op.then(function (answer) {
        form.elements.ceremony.value = challenge.ceremony;
        form.elements.credential.value = JSON.stringify(answer);
        form.submit();
      });
    }).catch(function (e) {
      button.disabled = false;
      if (e && e.name === "NotAllowedError") {
        showError("The passkey prompt was closed or timed out. Try again.");
      } else if (e && e.name === "InvalidStateError") {
        showError("This passkey is registered already.");
      } else {
        showError((e && e.message) || "The passkey could not be used.");
      }
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-passkey]");
    if (button && button.form && button.form.hasAttribute("data-options")) {
      event.preventDefault();
      run(button);
    }
  });
})();
