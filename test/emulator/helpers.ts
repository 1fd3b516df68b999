import type { Emulator } from "../../src/emulator/index.js";

/** Basic auth header value. */
export function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
}

/** A small client over plain fetch, authenticated as the emulator's account. */
export function client(em: Emulator, auth = basic(em.accountSid, em.authToken)) {
  const call = async (method: string, pathOrUrl: string, body?: unknown, form = false) => {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${em.url}${pathOrUrl}`;
    const headers: Record<string, string> = { authorization: auth };
    let payload: string | undefined;
    if (body !== undefined) {
      if (form) {
        headers["content-type"] = "application/x-www-form-urlencoded";
        payload = new URLSearchParams(body as Record<string, string>).toString();
      } else {
        headers["content-type"] = "application/json";
        payload = typeof body === "string" ? body : JSON.stringify(body);
      }
    }
    const res = await fetch(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const json: any = text === "" ? undefined : JSON.parse(text);
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    get: (p: string) => call("GET", p),
    post: (p: string, body: unknown) => call("POST", p, body),
    form: (p: string, body: Record<string, string>) => call("POST", p, body, true),
    patch: (p: string, body: unknown) => call("PATCH", p, body),
    del: (p: string) => call("DELETE", p),
    call,
  };
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** Plausible (not cryptographically valid) APN content: the emulator checks PEM markers only. */
export const APN_CONTENT = {
  certificate: b64("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"),
  privateKey: b64("-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n-----END RSA PRIVATE KEY-----\n"),
};

/** Plausible FCM content: base64 of a service-account JSON file. */
export const FCM_CONTENT = {
  privateKey: b64(
    JSON.stringify({
      type: "service_account",
      project_id: "limonade",
      client_email: "push@limonade.iam.gserviceaccount.com",
      private_key: "-----BEGIN PRIVATE KEY-----\nfake\n-----END PRIVATE KEY-----\n",
    }),
  ),
};

export function apnBody(appName: string, extra: Record<string, unknown> = {}) {
  return { credentialType: "APN", appName, content: APN_CONTENT, ...extra };
}

export function fcmBody(appName: string, extra: Record<string, unknown> = {}) {
  return { credentialType: "FCM", appName, content: FCM_CONTENT, ...extra };
}

export const CREDS = "/v1/PushNotifications/Credentials";

/** Polls `check` until it returns true (no timing assertions; gives up after `tries`). */
export async function eventually(check: () => Promise<boolean>, tries = 200, stepMs = 10): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return false;
}
