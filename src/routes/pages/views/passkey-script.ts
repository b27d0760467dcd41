import crypto from 'node:crypto'

// The hosted pages' only script, allowed by its hash: WebAuthn has no HTML form, so a passkey needs
// one. It drives every form marked data-passkey ("create" registers, "get" signs): it shows the form
// only where the browser has WebAuthn (without script the form stays hidden and the page works as
// before), fetches the ceremony's options with the form's own fields, asks the authenticator, and
// posts the form with the credential as JSON in its `credential` field. Plain ES2017, no library.
const SOURCE = `(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  function text(buffer) {
    var bytes = new Uint8Array(buffer), out = '';
    for (var i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
    return btoa(out).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  }
  function bytes(value) {
    var raw = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }
  function credentialIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: bytes(c.id) }); });
  }
  function asJson(credential) {
    var r = credential.response;
    var response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      if (r.userHandle) response.userHandle = text(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id, rawId: text(credential.rawId), type: credential.type, response: response,
      clientExtensionResults: credential.getClientExtensionResults(), authenticatorAttachment: credential.authenticatorAttachment || undefined
    });
  }
  // Only this service's own passkey forms: markup slipped into a page cannot aim one elsewhere.
  function own(path) { return (path || '').indexOf('/account/') === 0; }
  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    if (!own(form.getAttribute('action')) || !own(form.dataset.options)) return;
    var status = form.querySelector('[data-passkey-status]');
    var button = form.querySelector('button');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      // One ceremony at a time: a second click would only fail and hide the first.
      if (button.disabled) return;
      button.disabled = true;
      status.textContent = '';
      var create = form.dataset.passkey === 'create';
      fetch(form.dataset.options, { method: 'POST', credentials: 'same-origin', body: new URLSearchParams(new FormData(form)) })
        .then(function (answer) { if (!answer.ok) throw new Error('options'); return answer.json(); })
        .then(function (answer) {
          var options = answer.options;
          options.challenge = bytes(options.challenge);
          if (create) {
            options.user.id = bytes(options.user.id);
            options.excludeCredentials = credentialIds(options.excludeCredentials);
            return navigator.credentials.create({ publicKey: options });
          }
          options.allowCredentials = credentialIds(options.allowCredentials);
          return navigator.credentials.get({ publicKey: options });
        })
        .then(function (credential) {
          form.elements.credential.value = asJson(credential);
          form.submit();
        })
        .catch(function () {
          button.disabled = false;
          status.textContent = form.dataset.failed;
        });
    });
  });
})();`

/** The script element, for the pages with a passkey form. */
export const PASSKEY_SCRIPT = { html: `<script>${SOURCE}</script>` }

/** What the content security policy names to let that script, and only it, run. */
export const PASSKEY_SCRIPT_HASH = `'sha256-${crypto.createHash('sha256').update(SOURCE).digest('base64')}'`
