"use strict";

// The access token lives in this variable only: never in storage, never in
// a cookie the page can read. A reload gets a new one from the refresh
// cookie, which only the browser and authd see.
let accessToken = null;

// mfaToken is the first step of a login of a user with two-factor
// authentication, kept for the second step, in memory too.
let mfaToken = null;

const $ = (id) => document.getElementById(id);

// api calls authd through this origin and returns {status, body}.
async function api(method, path, {json, bearer} = {}) {
  const headers = {};
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (bearer && accessToken) headers["Authorization"] = "Bearer " + accessToken;
  try {
    const r = await fetch(path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      credentials: "same-origin",
    });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    return {status: r.status, body};
  } catch (e) {
    return {status: 0, body: {error: "network_error", detail: String(e)}};
  }
}

// report shows the outcome of a user's action; data-call, data-status
// and data-error tell a test that the action is over, and how it ended.
function report(call, method, path, res) {
  const shown = Object.assign({}, res.body);
  for (const token of ["access_token", "mfa_token"]) {
    if (typeof shown[token] === "string") {
      shown[token] = shown[token].slice(0, 12) + "… (" + shown[token].length + " characters, kept in memory)";
    }
  }
  // The secret and the recovery codes are shown once, in their section.
  for (const secret of ["secret", "otpauth_url", "recovery_codes"]) {
    if (shown[secret] !== undefined) shown[secret] = "(shown in Two-factor authentication)";
  }
  const out = $("status");
  out.textContent = method + " " + path + " → " + res.status + "\n" + JSON.stringify(shown, null, 2);
  out.className = res.status >= 200 && res.status < 300 ? "" : "error";
  $("js-cookies").textContent = JSON.stringify(document.cookie);
  $("notice").textContent = call === "load" ? "" : notice(res);
  out.dataset.status = String(res.status);
  out.dataset.error = (res.body && res.body.error) || "";
  out.dataset.call = call;
  remember(method, path, res.status);
}

// remember adds a call to the list of the last ones, newest first, so
// that a person sees what the page asked of authd and how it answered.
function remember(method, path, status) {
  const calls = $("calls");
  const item = document.createElement("li");
  item.textContent = new Date().toLocaleTimeString() + "  " + method + " " + path + " → " + status;
  item.className = status >= 200 && status < 300 ? "" : "error";
  calls.prepend(item);
  while (calls.children.length > lastCalls) calls.lastElementChild.remove();
  calls.dataset.count = String(calls.children.length);
}

// lastCalls is how many calls the list keeps.
const lastCalls = 10;

// notice is the sentence a person reads about an outcome: nothing for a
// success, authd's detail for a failure. A session that is not fresh
// enough for a sensitive action needs a new login, which the page says.
function notice(res) {
  if (res.status >= 200 && res.status < 300) return "";
  const body = res.body || {};
  if (res.status === 403 && body.error === "reauth_required") return "Log in again to do this.";
  return body.detail || "The call answered " + res.status + ".";
}

async function showWho() {
  const who = $("who");
  if (!accessToken) {
    who.textContent = "Not signed in.";
    who.className = "who";
    who.dataset.username = "";
    return;
  }
  const res = await api("GET", "/auth/me/", {bearer: true});
  if (res.status !== 200) {
    who.textContent = "Signed in, but /auth/me/ answered " + res.status + ".";
    return;
  }
  const me = res.body;
  who.textContent = "Signed in as " + me.username + (me.intra_login ? " (42: " + me.intra_login + ")" : " (no 42 account linked)") +
    "; two-factor authentication " + (me.two_factor ? "on" : "off") + ".";
  who.className = "who signed-in";
  who.dataset.username = me.username;
  who.dataset.intraLogin = me.intra_login || "";
  who.dataset.twoFactor = me.two_factor ? "on" : "off";
}

function credentials() {
  return {username: $("username").value, password: $("password").value};
}

async function login(event) {
  event.preventDefault();
  const res = await api("POST", "/auth/login/", {json: credentials()});
  firstFactor(res);
  await showWho();
  report("login", "POST", "/auth/login/", res);
}

// firstFactor takes the answer of a password or 42 login: a session, or,
// for a user with two-factor authentication, an mfa_token, and then the
// page asks for the code. The session the browser had, if any, stays
// until the second step succeeds.
function firstFactor(res) {
  mfaToken = null;
  $("mfa-form").hidden = true;
  if (res.status !== 200) return;
  if (res.body.mfa_required) {
    mfaToken = res.body.mfa_token;
    $("mfa-code").value = "";
    $("mfa-form").hidden = false;
    $("mfa-code").focus();
    return;
  }
  accessToken = res.body.access_token;
}

// codeOf reads a code from a field: spaces people type or paste between
// the digits are dropped.
function codeOf(id) {
  const code = $(id).value.replace(/\s+/g, "");
  $(id).value = "";
  return code;
}

// secondFactor ends a login with a code of the app or a recovery code. A
// wrong code leaves the mfa_token usable (authd counts the tries); a used
// or expired one needs a new login.
async function secondFactor(event) {
  event.preventDefault();
  const res = await api("POST", "/auth/login/mfa/", {json: {mfa_token: mfaToken || "", code: codeOf("mfa-code")}});
  if (res.status === 200) accessToken = res.body.access_token;
  if (res.status === 200 || (res.body && res.body.error === "invalid_mfa_token")) {
    mfaToken = null;
    $("mfa-form").hidden = true;
  }
  await showWho();
  report("login_mfa", "POST", "/auth/login/mfa/", res);
}

async function register() {
  const res = await api("POST", "/auth/register/", {json: credentials()});
  report("register", "POST", "/auth/register/", res);
}

async function startIntra() {
  const res = await api("GET", "/oauth2/intra/url/");
  report("intra_url", "GET", "/oauth2/intra/url/", res);
  if (res.status === 200) window.location.assign(res.body.url);
}

async function intraLogin() {
  const res = await api("POST", "/oauth2/intra/login/");
  firstFactor(res);
  $("intra-next").hidden = true;
  await showWho();
  report("intra_login", "POST", "/oauth2/intra/login/", res);
}

async function intraLink() {
  const res = await api("POST", "/oauth2/intra/link/", {bearer: true});
  $("intra-next").hidden = true;
  await showWho();
  report("intra_link", "POST", "/oauth2/intra/link/", res);
}

async function refresh() {
  const res = await api("POST", "/auth/refresh/");
  accessToken = res.status === 200 ? res.body.access_token : null;
  await showWho();
  return res;
}

async function intraUnlink() {
  const res = await api("DELETE", "/oauth2/intra/link/", {bearer: true});
  await showWho();
  report("intra_unlink", "DELETE", "/oauth2/intra/link/", res);
}

async function me() {
  const res = await api("GET", "/auth/me/", {bearer: true});
  report("me", "GET", "/auth/me/", res);
}

async function logout() {
  const res = await api("POST", "/auth/logout/", {bearer: true});
  if (res.status === 200) {
    accessToken = null;
    $("session-list").replaceChildren();
    $("session-list").dataset.count = "";
    forgetTwoFactor();
  }
  await showWho();
  report("logout", "POST", "/auth/logout/", res);
}

async function logoutOthers() {
  const res = await api("POST", "/auth/logout/", {json: {scope: "others"}, bearer: true});
  if (res.status === 200) await showSessions();
  report("logout_others", "POST", "/auth/logout/", res);
}

// listSessions shows where the user is signed in.
async function listSessions() {
  const res = await showSessions();
  report("sessions", "GET", "/auth/sessions/", res);
}

// showSessions fills the list with the user's live sessions, newest
// first: the current one marked, each other one with a button that ends
// it. Every value is set as text, never as HTML: a User-Agent is the
// client's to choose.
async function showSessions() {
  const res = await api("GET", "/auth/sessions/", {bearer: true});
  const list = $("session-list");
  list.replaceChildren();
  list.dataset.count = "";
  if (res.status !== 200) return res;
  for (const s of res.body.sessions) {
    const item = document.createElement("li");
    item.dataset.sessionId = s.id;
    item.dataset.current = String(s.current);
    const what = document.createElement("span");
    what.textContent = (s.method === "intra" ? "Log in with 42" : "Password") + " from " + s.ip +
      (s.user_agent ? ", " + s.user_agent : "") + " ";
    item.append(what);
    if (s.current) {
      const mark = document.createElement("span");
      mark.className = "current";
      mark.textContent = "(this browser) ";
      item.append(mark);
    }
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = "started " + s.created_at + ", last used " + s.last_used_at + " ";
    item.append(when);
    if (!s.current) {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "end-session";
      end.textContent = "End this session";
      end.addEventListener("click", () => endSession(s.id));
      item.append(end);
    }
    list.append(item);
  }
  list.dataset.count = String(res.body.sessions.length);
  return res;
}

async function endSession(id) {
  const path = "/auth/sessions/" + encodeURIComponent(id) + "/";
  const res = await api("DELETE", path, {bearer: true});
  if (res.status === 200) await showSessions();
  report("end_session", "DELETE", path, res);
}

// changePassword sends the current password only when one is typed: a
// user made with 42 may have none.
async function changePassword(event) {
  event.preventDefault();
  const body = {new_password: $("new-password").value};
  if ($("current-password").value !== "") body.current_password = $("current-password").value;
  const res = await api("POST", "/auth/password/", {json: body, bearer: true});
  if (res.status === 200) {
    $("current-password").value = "";
    $("new-password").value = "";
    if ($("session-list").dataset.count !== "") await showSessions();
  }
  report("change_password", "POST", "/auth/password/", res);
}

// totpSetup asks authd for a new secret, then shows it as a QR code and
// as text. Asking again replaces the secret.
async function totpSetup() {
  const res = await api("POST", "/auth/2fa/totp/setup/", {bearer: true});
  if (res.status === 200) await showEnrolment(res.body);
  report("totp_setup", "POST", "/auth/2fa/totp/setup/", res);
}

// showEnrolment shows a set-up: the secret as text, and its otpauth URL
// as a QR code that this demo's server draws. The URL goes in the body of
// a POST, so that the secret lands in no URL or log; the SVG comes back
// as a blob the image shows. data-ready tells a test the image is there.
async function showEnrolment(setup) {
  forgetTwoFactor();
  $("totp-secret").textContent = setup.secret;
  $("totp-enrol").hidden = false;
  const img = $("totp-qr");
  try {
    const r = await fetch("/qr.svg", {
      method: "POST",
      headers: {"Content-Type": "text/plain; charset=utf-8"},
      body: setup.otpauth_url,
      credentials: "same-origin",
    });
    if (!r.ok) throw new Error("the demo answered " + r.status);
    img.src = URL.createObjectURL(await r.blob());
    await img.decode();
    img.alt = "QR code of the set-up";
    img.dataset.ready = "1";
  } catch (e) {
    img.removeAttribute("src");
    img.alt = "No QR code (" + e.message + "): type the secret instead.";
  }
  $("totp-code").focus();
}

// forgetTwoFactor takes the set-up and the recovery codes off the page.
function forgetTwoFactor() {
  const img = $("totp-qr");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.removeAttribute("src");
  img.dataset.ready = "";
  $("totp-secret").textContent = "";
  $("totp-enrol").hidden = true;
  $("recovery-codes").replaceChildren();
  $("recovery-codes").dataset.count = "";
  $("recovery-box").hidden = true;
}

// showRecoveryCodes shows the ten codes of a confirm or a renewal, once.
function showRecoveryCodes(codes) {
  forgetTwoFactor();
  const list = $("recovery-codes");
  for (const code of codes) {
    const item = document.createElement("li");
    item.textContent = code;
    list.append(item);
  }
  list.dataset.count = String(codes.length);
  $("recovery-box").hidden = false;
}

// totpConfirm turns two-factor authentication on with a code of the app;
// authd ends every other session of the account.
async function totpConfirm(event) {
  event.preventDefault();
  const res = await api("POST", "/auth/2fa/totp/confirm/", {json: {code: codeOf("totp-code")}, bearer: true});
  if (res.status === 200) {
    showRecoveryCodes(res.body.recovery_codes);
    if ($("session-list").dataset.count !== "") await showSessions();
  }
  await showWho();
  report("totp_confirm", "POST", "/auth/2fa/totp/confirm/", res);
}

async function recoveryNew() {
  const res = await api("POST", "/auth/2fa/recovery-codes/", {json: {code: codeOf("totp-manage-code")}, bearer: true});
  if (res.status === 200) showRecoveryCodes(res.body.recovery_codes);
  report("recovery_codes", "POST", "/auth/2fa/recovery-codes/", res);
}

async function totpDisable() {
  const res = await api("POST", "/auth/2fa/totp/disable/", {json: {code: codeOf("totp-manage-code")}, bearer: true});
  if (res.status === 200) forgetTwoFactor();
  await showWho();
  report("totp_disable", "POST", "/auth/2fa/totp/disable/", res);
}

// intraOutcome reads where the provider's round trip ended: the demo's
// server redirects the callback to /?intra=ok or /?intra=<error code>.
function intraOutcome() {
  const params = new URLSearchParams(window.location.search);
  const outcome = params.get("intra");
  if (outcome === null) return;
  history.replaceState(null, "", "/");
  $("intra-back").hidden = false;
  if (outcome === "ok") {
    $("intra-outcome").textContent = "42 says who you are. Within five minutes, continue as that 42 user, or link the 42 account to the account you are signed in with.";
    $("intra-next").hidden = false;
  } else {
    $("intra-outcome").textContent = "Log in with 42 did not succeed: " + outcome + ".";
  }
  $("intra-back").dataset.outcome = outcome;
}

async function start() {
  $("password-form").addEventListener("submit", login);
  $("mfa-form").addEventListener("submit", secondFactor);
  $("register").addEventListener("click", register);
  $("intra-url").addEventListener("click", startIntra);
  $("intra-login").addEventListener("click", intraLogin);
  $("intra-link").addEventListener("click", intraLink);
  $("intra-unlink").addEventListener("click", intraUnlink);
  $("me").addEventListener("click", me);
  $("refresh").addEventListener("click", async () => report("refresh", "POST", "/auth/refresh/", await refresh()));
  $("logout").addEventListener("click", logout);
  $("logout-others").addEventListener("click", logoutOthers);
  $("sessions").addEventListener("click", listSessions);
  $("change-password-form").addEventListener("submit", changePassword);
  $("totp-setup").addEventListener("click", totpSetup);
  $("totp-confirm-form").addEventListener("submit", totpConfirm);
  $("recovery-new").addEventListener("click", recoveryNew);
  $("totp-disable").addEventListener("click", totpDisable);
  intraOutcome();
  // A new page has no access token: ask for one with the refresh cookie.
  const res = await refresh();
  report("load", "POST", "/auth/refresh/", res);
  document.body.dataset.ready = "1";
}

start();
