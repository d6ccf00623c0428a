// Passkeys in the browser: "Add a passkey" on the account page and "Sign in with a passkey"
// on the sign-in page, over the JSON routes of lucia-axum's PasskeyRoutes. Everything else
// about passkeys (the list, renaming, removing) is plain forms that work without this file.
"use strict";

(() => {
  const supported = window.PublicKeyCredential !== undefined
    && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"
    && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  /** POSTs JSON (or nothing) to the demo; the browser adds the cookie and the Origin header. */
  async function post(path, body) {
    const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  /** The route's error as words for the user: fixed texts per status, nothing echoed. */
  async function failure(response) {
    let code = "";
    try {
      code = (await response.json()).error || "";
    } catch (_) {
      // Not JSON: the status says enough.
    }
    if (response.status === 403 && code === "reauthentication_required") {
      return "For your safety, adding a passkey needs a recent sign-in. Sign out, sign in again, then add it.";
    }
    switch (response.status) {
      case 401: return "That passkey is not registered here (it may have been removed). Sign in another way.";
      case 409: return "That passkey is already registered.";
      case 429: return "Too many attempts. Please wait a moment and try again.";
      case 503: return "The service is briefly unavailable. Please try again in a few seconds.";
      default: return "That did not work. Please try again.";
    }
  }

  /** What a failed navigator.credentials call means for the user. */
  function ceremonyFailure(error) {
    if (error && error.name === "InvalidStateError") return "This device already holds a passkey for your account.";
    if (error && error.name === "NotAllowedError") return "No passkey was used: it was cancelled or took too long.";
    return "Your browser could not use a passkey here.";
  }

  function show(message) {
    const box = document.getElementById("passkey-error");
    box.textContent = message;
    box.hidden = false;
  }

  /** Passkeys work only at the origin they are registered for (a domain, not an address). */
  function atPasskeyOrigin(section) {
    const origin = section.dataset.passkeyOrigin;
    if (!origin || origin === window.location.origin) return true;
    const elsewhere = section.querySelector(".passkey-elsewhere");
    const link = elsewhere.querySelector("a");
    link.href = origin + window.location.pathname;
    link.textContent = origin;
    elsewhere.hidden = false;
    return false;
  }

  async function addPasskey(button) {
    button.disabled = true;
    try {
      const started = await post("/passkeys/register/start");
      if (!started.ok) return show(await failure(started));
      const { ceremony, options } = await started.json();
      let credential;
      try {
        credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
        });
      } catch (error) {
        return show(ceremonyFailure(error));
      }
      const name = document.getElementById("passkey-name").value;
      const finished = await post("/passkeys/register/finish", { ceremony, credential: credential.toJSON(), name });
      if (!finished.ok) return show(await failure(finished));
      window.location.assign("/account?notice=passkey-added");
    } catch (_) {
      show("The server could not be reached. Please try again.");
    } finally {
      button.disabled = false;
    }
  }

  async function signInWithPasskey(button) {
    button.disabled = true;
    try {
      const started = await post("/passkeys/sign-in/start");
      if (!started.ok) return show(await failure(started));
      const { ceremony, options } = await started.json();
      let credential;
      try {
        credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
        });
      } catch (error) {
        return show(ceremonyFailure(error));
      }
      const finished = await post("/passkeys/sign-in/finish", { ceremony, credential: credential.toJSON() });
      if (!finished.ok) return show(await failure(finished));
      window.location.assign("/account");
    } catch (_) {
      show("The server could not be reached. Please try again.");
    } finally {
      button.disabled = false;
    }
  }

  const section = document.getElementById("passkey-actions");
  if (!section || !supported) return;
  section.querySelector(".passkey-unsupported").hidden = true;
  if (!atPasskeyOrigin(section)) return;
  const add = document.getElementById("passkey-add");
  const signIn = document.getElementById("passkey-sign-in");
  for (const [button, action] of [[add, addPasskey], [signIn, signInWithPasskey]]) {
    if (!button) continue;
    button.closest("[hidden]")?.removeAttribute("hidden");
    button.hidden = false;
    button.addEventListener("click", () => action(button));
  }
})();
