"use strict";

// The access token lives in this variable only: never in storage, never in
// a cookie the page can read. A reload gets a new one from the refresh
// cookie, which only the browser and authd see.
let accessToken = null;

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
  if (typeof shown.access_token === "string") {
    shown.access_token = shown.access_token.slice(0, 12) + "… (" + shown.access_token.length + " characters, kept in memory)";
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
  if (res.status === 200) accessToken = res.body.access_token;
  await showWho();
  report("login", "POST", "/auth/login/", res);
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
  if (res.status === 200) accessToken = res.body.access_token;
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
  intraOutcome();
  // A new page has no access token: ask for one with the refresh cookie.
  const res = await refresh();
  report("load", "POST", "/auth/refresh/", res);
  document.body.dataset.ready = "1";
}

start();
