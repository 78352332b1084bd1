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

// report shows the outcome of a user's action; data-call and data-status
// tell a test that the action is over.
function report(call, method, path, res) {
  const shown = Object.assign({}, res.body);
  if (typeof shown.access_token === "string") {
    shown.access_token = shown.access_token.slice(0, 12) + "… (" + shown.access_token.length + " characters, kept in memory)";
  }
  const out = $("status");
  out.textContent = method + " " + path + " → " + res.status + "\n" + JSON.stringify(shown, null, 2);
  out.className = res.status >= 200 && res.status < 300 ? "" : "error";
  $("js-cookies").textContent = JSON.stringify(document.cookie);
  out.dataset.status = String(res.status);
  out.dataset.call = call;
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
  who.textContent = "Signed in as " + me.username + (me.intra_login ? " (42: " + me.intra_login + ")" : " (no 42 account linked)");
  who.className = "who signed-in";
  who.dataset.username = me.username;
  who.dataset.intraLogin = me.intra_login || "";
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

async function me() {
  const res = await api("GET", "/auth/me/", {bearer: true});
  report("me", "GET", "/auth/me/", res);
}

async function logout() {
  const res = await api("POST", "/auth/logout/", {bearer: true});
  if (res.status === 200) accessToken = null;
  await showWho();
  report("logout", "POST", "/auth/logout/", res);
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
  $("me").addEventListener("click", me);
  $("refresh").addEventListener("click", async () => report("refresh", "POST", "/auth/refresh/", await refresh()));
  $("logout").addEventListener("click", logout);
  intraOutcome();
  // A new page has no access token: ask for one with the refresh cookie.
  const res = await refresh();
  report("load", "POST", "/auth/refresh/", res);
  document.body.dataset.ready = "1";
}

start();
