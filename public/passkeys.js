// Passkeys on the login page, the passkeys page and the confirm page. @simplewebauthn/browser's bundle (loaded first) does the
// WebAuthn calls; the pages carry the CSRF token (<meta name="csrf-token">) and their messages (data-*).
'use strict';
(() => {
  const webauthn = window.SimpleWebAuthnBrowser;
  const supported = Boolean(webauthn && webauthn.browserSupportsWebAuthn());
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

  /** The site's own refusal, in the person's language. */
  class Refused extends Error {}

  /** This session must be confirmed first: to the confirm page, coming back to this one. */
  const confirmFirst = () => window.location.assign(`/user/confirm?next=${encodeURIComponent(window.location.pathname)}`);

  async function post(path, body = {}) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (answer.stepUp) confirmFirst();
    if (!res.ok) throw new Refused(answer.msg ?? '');
    return answer;
  }

  /**
   * Shows what went wrong: the site's message; else "already here" (the authenticator holds a passkey of this account,
   * one the options excluded), "cancelled" (the person or a timeout ended it) or "failed".
   */
  function showError(box, messages, err) {
    const names = [err?.name, err?.cause?.name];
    const cancelled = names.some((name) => name === 'NotAllowedError' || name === 'AbortError');
    const alreadyHere = messages.exists && names.includes('InvalidStateError');
    box.textContent = (err instanceof Refused && err.message) || (alreadyHere ? messages.exists : cancelled ? messages.cancelled : messages.failed);
    box.hidden = false;
  }

  /** Runs `ceremony` when `form` is sent, showing its error in the form's alert. */
  function onSubmit(form, ceremony) {
    const box = form.querySelector('.passkey-error');
    const button = form.querySelector('button');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      box.hidden = true;
      button.disabled = true;
      try {
        await ceremony();
      } catch (err) {
        showError(box, form.dataset, err);
      } finally {
        button.disabled = false;
      }
    });
  }

  const login = document.getElementById('passkey-login');
  if (login && supported) {
    login.hidden = false;
    onSubmit(login, async () => {
      const optionsJSON = await post('/user/login/passkey/options');
      const shared = document.getElementById('shared')?.checked === true;
      await post('/user/login/passkey', { response: await webauthn.startAuthentication({ optionsJSON }), shared });
      window.location.assign(login.dataset.next || '/user/info');
    });
  }

  const confirm = document.getElementById('passkey-confirm');
  if (confirm && supported) {
    confirm.hidden = false;
    onSubmit(confirm, async () => {
      const optionsJSON = await post('/user/confirm/passkey/options');
      await post('/user/confirm/passkey', { response: await webauthn.startAuthentication({ optionsJSON }) });
      window.location.assign(confirm.dataset.next || '/user/info');
    });
  }

  const add = document.getElementById('passkey-add');
  if (add && !supported) document.getElementById('passkey-unsupported').hidden = false;
  if (add && supported) {
    add.hidden = false;
    onSubmit(add, async () => {
      const optionsJSON = await post('/user/passkeys/options');
      const response = await webauthn.startRegistration({ optionsJSON });
      await post('/user/passkeys', { name: add.elements.name.value, response });
      window.location.assign('/user/passkeys');
    });
  }
})();
