// The warehouse single-page app of the Portcullis demo.
//
// It never sees a token. The gateway's token handler (an OAuth agent
// under /bff/warehouse on the gateway) signs the user in as a
// confidential client and keeps the tokens in encrypted, HttpOnly
// cookies; this script sends those cookies with every call
// (credentials: "include") and proves it is the app with the CSRF value
// in the x-pc-csrf header. That value lives in this module's memory only:
// never in localStorage, sessionStorage or a readable cookie.
//
// docs/token-handler.md describes the endpoints used here.

const SESSION_EXPIRED = "urn:portcullis:problem:session-expired";
const CSRF_HEADER = "x-pc-csrf";

const state = {
  cfg: null, // {gateway, agent, api} from /config.json
  csrf: "", // the double-submit value of the session
  claims: null, // the ID token's claims
  items: [],
  orders: [],
};

const $ = (selector) => document.querySelector(selector);

// Problem is an RFC 9457 answer of the gateway or the agent.
class Problem extends Error {
  constructor(status, body) {
    super(body?.title || `HTTP ${status}`);
    this.status = status;
    this.type = body?.type || "";
    this.detail = body?.detail || "";
  }

  get sessionExpired() {
    return this.type === SESSION_EXPIRED;
  }
}

// call fetches url with the session's cookies, the CSRF value when there
// is one, and a JSON body when given; it returns the JSON answer (null
// for 204) or throws a Problem.
async function call(url, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.csrf) headers[CSRF_HEADER] = state.csrf;
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "include",
    cache: "no-store",
  });
  if (res.status === 204) return null;
  const isJSON = (res.headers.get("Content-Type") || "").includes("json");
  const data = isJSON ? await res.json() : null;
  if (!res.ok) throw new Problem(res.status, data);
  return data;
}

const agentURL = (path) => state.cfg.gateway + state.cfg.agent + path;
const apiURL = (path) => state.cfg.gateway + state.cfg.api + path;

// api calls the warehouse API. An access cookie that has expired answers
// session-expired: refresh once and try again (docs/token-handler.md,
// "The SPA's rule").
async function api(path, options) {
  try {
    return await call(apiURL(path), options);
  } catch (err) {
    if (!(err instanceof Problem) || !err.sessionExpired) throw err;
    await call(agentURL("/refresh"), { method: "POST" });
    return call(apiURL(path), options);
  }
}

// --- views ---------------------------------------------------------------

function show(view) {
  for (const id of ["loading", "welcome", "app"]) $("#" + id).hidden = id !== view;
  $("#session").hidden = view !== "app";
}

let noticeTimer;

function notify(text, kind = "ok") {
  const el = $("#notice");
  el.textContent = text;
  el.className = "notice " + kind;
  el.hidden = false;
  clearTimeout(noticeTimer);
  if (kind === "ok") noticeTimer = setTimeout(() => (el.hidden = true), 6000);
}

function describe(err) {
  if (err instanceof Problem) return err.detail ? `${err.message}: ${err.detail}` : err.message;
  return "The gateway could not be reached. Is the demo still running?";
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

// SCOPES names what each scope of the session lets the user do.
const SCOPES = { list_items: "See the stock", order_item: "Place orders" };

// renderUser shows who is signed in (the ID token's claims, from the
// agent) and, once the API has answered, what the access token allows
// (the scopes the backend saw in the gateway's phantom token).
function renderUser(claims, scope) {
  const name = claims.preferred_username || claims.name || claims.sub;
  $("#user").textContent = name;
  $("#avatar").textContent = name.slice(0, 1).toUpperCase();
  const granted = (scope || "").split(" ").filter((s) => SCOPES[s]);
  $("#role").textContent = granted.includes("order_item") ? "Can order" : granted.length ? "Read only" : "";
  const rows = [
    ["Signed in as", name],
    ["Allowed to", granted.map((s) => SCOPES[s]).join(", ") || "…"],
    ["Signed in at", new Date((claims.auth_time || claims.iat) * 1000).toLocaleTimeString()],
    ["Session", "HttpOnly cookies, SameSite=Strict"],
  ];
  $("#claims").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
}

function stockClass(stock) {
  if (stock < 10) return "stock low";
  if (stock < 50) return "stock mid";
  return "stock";
}

function renderItems(caller) {
  const rows = state.items.map((item) => {
    const button = el("button", { type: "button", className: "primary small", textContent: "Order" });
    button.dataset.sku = item.sku;
    button.addEventListener("click", () => placeOrder(item, button));
    return el(
      "tr",
      {},
      el("td", { className: "item", textContent: item.name }),
      el("td", {}, el("code", { textContent: item.sku })),
      el("td", { className: "num" }, el("span", { className: stockClass(item.stock), textContent: String(item.stock) })),
      el("td", { className: "act" }, button),
    );
  });
  $("#items").replaceChildren(...rows);
  // The gateway's request ids end in a counter: its tail tells calls apart.
  const via = caller?.request_id ? ` · request …${caller.request_id.slice(-8)}` : "";
  $("#items-meta").textContent = `${state.items.length} items · through the gateway${via}`;
}

function renderOrders() {
  const list = state.orders.map((o) =>
    el(
      "li",
      {},
      el("span", { className: "order-id", textContent: `#${o.id}` }),
      el("span", { className: "order-item", textContent: o.name }),
      el("time", { className: "muted", textContent: new Date(o.created).toLocaleTimeString() }),
    ),
  );
  $("#orders").replaceChildren(...list);
  $("#no-orders").hidden = state.orders.length > 0;
  $("#order-count").textContent = String(state.orders.length);
}

// --- actions -------------------------------------------------------------

async function loadItems() {
  const data = await api("/items");
  state.items = data.items || [];
  renderItems(data.caller);
  renderUser(state.claims, data.caller?.scope);
}

async function placeOrder(item, button) {
  button.disabled = true;
  try {
    const data = await api("/orders", { method: "POST", body: { item: item.sku } });
    state.orders.unshift({ ...data.order, name: item.name });
    renderOrders();
    notify(`Order #${data.order.id} placed: ${item.name}.`);
  } catch (err) {
    notify("The order was not placed. " + describe(err), "error");
  } finally {
    button.disabled = false;
  }
}

async function signIn() {
  $("#signin").disabled = true;
  try {
    const { authorizationRequestUrl } = await call(agentURL("/login/start"), { method: "POST" });
    location.assign(authorizationRequestUrl);
  } catch (err) {
    $("#signin").disabled = false;
    notify("Sign-in could not start. " + describe(err), "error");
  }
}

async function refreshSession() {
  try {
    await call(agentURL("/refresh"), { method: "POST" });
    notify(`Session refreshed at ${new Date().toLocaleTimeString()}.`);
    await loadItems();
  } catch (err) {
    if (err instanceof Problem && err.sessionExpired) return signedOut("Your session has ended. Please sign in again.");
    notify("The session could not be refreshed. " + describe(err), "error");
  }
}

async function signOut() {
  try {
    const { endSessionUrl } = (await call(agentURL("/logout"), { method: "POST" })) || {};
    if (endSessionUrl) {
      location.assign(endSessionUrl);
      return;
    }
  } catch (err) {
    // The cookies may be gone already; the page forgets the session anyway.
  }
  signedOut("You have signed out.");
}

function signedOut(message) {
  state.csrf = "";
  state.claims = null;
  state.items = [];
  state.orders = [];
  renderOrders();
  $("#signin").disabled = false;
  show("welcome");
  if (message) notify(message, "info");
}

async function signedIn() {
  state.claims = await call(agentURL("/claims"));
  renderUser(state.claims);
  renderOrders();
  show("app");
  await loadItems();
}

// start runs on every page load: login/end finishes a sign-in when the
// issuer has just sent the browser back here, and otherwise says whether
// a session exists (a reload, a new tab).
async function start() {
  $("#signin").addEventListener("click", signIn);
  $("#signout").addEventListener("click", signOut);
  $("#refresh").addEventListener("click", refreshSession);
  $("#reload").addEventListener("click", () => loadItems().catch((err) => notify(describe(err), "error")));
  try {
    const res = await fetch("/config.json", { cache: "no-store" });
    state.cfg = await res.json();
  } catch {
    notify("The app's settings could not be read.", "error");
    return;
  }
  let session;
  try {
    session = await call(agentURL("/login/end"), { method: "POST", body: { pageUrl: location.href } });
  } catch (err) {
    history.replaceState(null, "", location.pathname);
    signedOut("Sign-in failed. " + describe(err));
    return;
  }
  if (session.handled) {
    // The code and state have been used: keep them out of the history.
    history.replaceState(null, "", location.pathname);
  }
  if (!session.isLoggedIn) {
    signedOut();
    return;
  }
  state.csrf = session.csrf;
  try {
    await signedIn();
    if (session.handled) notify(`Signed in. Welcome, ${$("#user").textContent}.`);
  } catch (err) {
    if (err instanceof Problem && err.sessionExpired) return signedOut("Your session has ended. Please sign in again.");
    show("app");
    notify(describe(err), "error");
  }
}

start();
