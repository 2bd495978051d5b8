// Talking to the API: log in (phone + password), keep the tokens in sessionStorage (gone when the tab closes),
// refresh once on a 401, and download exports with the token (a plain link could not send it).
const KEY = "grid-coverage-session";
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");

export class AuthError extends Error {}

function save(value) {
  session = value;
  if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
  else sessionStorage.removeItem(KEY);
}

export const hasSession = () => session !== null;
export const userName = () => (session ? session.name : "");

async function problemText(response) {
  const body = await response.json().catch(() => ({}));
  return body.detail || body.title || `${response.status} ${response.statusText}`;
}

export async function login(phone, password) {
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ phone, password }),
  });
  if (!response.ok) throw new Error(response.status === 401 ? "手机号或密码不正确" : await problemText(response));
  const body = await response.json();
  save({ access: body.access_token, refresh: body.refresh_token, name: body.user ? body.user.name : phone });
}

export async function logout() {
  if (session) {
    await fetch("/api/v1/auth/logout", { method: "POST", headers: authHeader() }).catch(() => {});
  }
  save(null);
}

function authHeader() {
  return session ? { Authorization: `Bearer ${session.access}` } : {};
}

async function refresh() {
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { Authorization: `Bearer ${session.refresh}` },
  });
  if (!response.ok) return false;
  const body = await response.json();
  save({ ...session, access: body.access_token, refresh: body.refresh_token });
  return true;
}

async function authorised(path) {
  let response = await fetch(path, { headers: authHeader() });
  if (response.status === 401 && session && (await refresh())) response = await fetch(path, { headers: authHeader() });
  if (response.status === 401) {
    save(null);
    throw new AuthError("登录已过期，请重新登录");
  }
  if (!response.ok) throw new Error(await problemText(response));
  return response;
}

export async function getJSON(path) {
  return (await authorised(path)).json();
}

export async function download(path, fallbackName) {
  const response = await authorised(path);
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
