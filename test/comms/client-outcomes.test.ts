/**
 * What the Comms client concludes from an answer: which earlier attempts may have been carried out,
 * which 2xx answers name their resource, which lists are read how.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { ApiError, UnknownOutcomeError } from "../../src/errors.js";
import { startLocalServer, type Reply, type SeenRequest } from "./local-server.js";

const ACCOUNT = "AC00000000000000000000000000000000";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(handler: (req: SeenRequest, i: number) => Reply) {
  const server = await startLocalServer(handler);
  const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", username: ACCOUNT, password: "t", accountSid: ACCOUNT, sleep: async () => {}, random: () => 0 });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client };
}

const ID = "comms_credential_abc";
const VALID_ID = "comms_credential_01h9krwprkeee8fzqspvwy6nq8";
const notFound: Reply = { status: 404, json: { errors: [{ message: "not found" }] } };

describe("Comms client: a delete's 404 after a retry", () => {
  it("after a 500 (maybe carried out) it counts as done", async () => {
    const { client } = await setup((_r, i) => (i === 0 ? { status: 500, text: "oops" } : notFound));
    await expect(client.delete(ID)).resolves.toMatchObject({ resourceId: ID });
  });

  it("after a 503 or a 429 (not processed) it is an error: nothing was deleted by us", async () => {
    for (const first of [503, 429]) {
      const { client, server } = await setup((_r, i) => (i === 0 ? { status: first, headers: { "retry-after": "0" } } : notFound));
      const err = await client.delete(ID).catch((e: unknown) => e);
      expect(err, String(first)).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(404);
      expect(server.requests).toHaveLength(2);
    }
  });

  it("a 404 first is an error even when a later call of the client had retried", async () => {
    let n = 0;
    const { client } = await setup(() => (n++ === 0 ? { status: 500, text: "x" } : notFound));
    await client.delete(ID);
    await expect(client.delete(ID)).rejects.toBeInstanceOf(ApiError);
  });
});

describe("Comms client: what a 2xx must name", () => {
  it("a create answered 202 without any resource id or location is an unknown outcome, not a success", async () => {
    const { client } = await setup(() => ({ status: 202, text: "" }));
    const err = await client.create({ credentialType: "APN", appName: "a", content: { certificate: "Y2VydA==", privateKey: "a2V5" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as Error).message).toMatch(/accepted the request \(HTTP 202\) but named no resource/);
  });

  it("a create answered with a Location only takes its id from the last path segment, decoded; one that is no Comms id is invalid", async () => {
    const { client, server } = await setup(() => ({ status: 201, text: "not json", headers: { location: `/v1/PushNotifications/Credentials/${encodeURIComponent(VALID_ID)}` } }));
    const res = await client.create({ credentialType: "APN", appName: "a", content: { certificate: "Y2VydA==", privateKey: "a2V5" } });
    expect(res).toEqual({ resourceId: VALID_ID, resourceLocation: `${server.url}/v1/PushNotifications/Credentials/${VALID_ID}` });
    const odd = await setup(() => ({ status: 201, text: "not json", headers: { location: "/v1/PushNotifications/Credentials/comms%20credential/" } }));
    const err = await odd.client.create({ credentialType: "APN", appName: "a", content: { certificate: "Y2VydA==", privateKey: "a2V5" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as Error).message).toMatch(/named an invalid resource \(Location/);
  });

  it("an empty resourceId in the body falls back to the Location", async () => {
    const { client, server } = await setup(() => ({ status: 202, json: { resourceId: "", resourceLocation: "" }, headers: { location: `/v1/PushNotifications/Credentials/${VALID_ID}` } }));
    const res = await client.create({ credentialType: "APN", appName: "a", content: { certificate: "Y2VydA==", privateKey: "a2V5" } });
    expect(res).toEqual({ resourceId: VALID_ID, resourceLocation: `${server.url}/v1/PushNotifications/Credentials/${VALID_ID}` });
  });

  it("a PATCH is taken to have acted on the credential it names, whatever id the answer echoes", async () => {
    const { client, server } = await setup(() => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: `/v1/PushNotifications/Credentials/${VALID_ID}` } }));
    expect(await client.setDefault(ID, true)).toEqual({ resourceId: ID, resourceLocation: `${server.url}/v1/PushNotifications/Credentials/${ID}` });
  });

  it("a 200 is an acceptance too; an id without any location is not enough", async () => {
    const ok = await setup(() => ({ status: 200, json: { resourceId: VALID_ID, resourceLocation: `/v1/PushNotifications/Credentials/${VALID_ID}` } }));
    await expect(ok.client.create({ credentialType: "APN", appName: "a", content: { certificate: "Y2VydA==", privateKey: "a2V5" } })).resolves.toEqual({ resourceId: VALID_ID, resourceLocation: `${ok.server.url}/v1/PushNotifications/Credentials/${VALID_ID}` });
    const bare = await setup(() => ({ status: 202, json: { resourceId: VALID_ID } }));
    const err = await bare.client.create({ credentialType: "APN", appName: "a", content: { certificate: "Y2VydA==", privateKey: "a2V5" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
  });

  it("a 3xx is not an acceptance", async () => {
    const { client } = await setup(() => ({ status: 304, text: "" }));
    await expect(client.setDefault(ID, true)).rejects.toBeInstanceOf(ApiError);
  });
});

describe("Comms client: list filters and answers", () => {
  it("passes every filter on, isDefault as text", async () => {
    const { client, server } = await setup(() => ({ status: 200, json: { credentials: [] } }));
    await client.list({ appName: "a", credentialType: "FCM", isDefault: false, startDate: "2025-01-01", endDate: "2025-02-01" });
    const q = server.requests[0]!.query;
    expect(Object.fromEntries(q)).toMatchObject({ appName: "a", credentialType: "FCM", isDefault: "false", startDate: "2025-01-01", endDate: "2025-02-01" });
  });

  it("invalid JSON is an error naming the path without its query, quoting nothing of the answer", async () => {
    const { client } = await setup(() => ({ status: 200, text: "<html>secret-ish</html>" }));
    const err = await client.list({ appName: "a" }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("Comms API answered /v1/PushNotifications/Credentials with invalid JSON");
  });

  it("an App page's next as a path or URL is followed on the base URL", async () => {
    const { client, server } = await setup((_r, i) =>
      i === 0
        ? { status: 200, json: { apps: [{ name: "a", isDefault: true }], pagination: { next: "https://elsewhere.example/v1/PushNotifications/Apps?pageToken=t2" } } }
        : { status: 200, json: { apps: [{ name: "b" }, { name: "a" }] } },
    );
    const apps = await client.listApps();
    expect(apps.map((a) => [a.name, a.isDefault])).toEqual([["a", true], ["b", false]]);
    expect(server.requests[1]!.url).toBe("/v1/PushNotifications/Apps?pageToken=t2");
  });
});

describe("Comms client: error text", () => {
  it("a short piece of a sent secret echoed in an error body is removed (too short to look like key material)", async () => {
    const certificate = Buffer.from("certificate-secret-value-0123").toString("base64");
    const piece = certificate.slice(3, 20);
    const { client } = await setup(() => ({ status: 400, json: { message: `bad certificate ${piece}` } }));
    const err = await client.create({ credentialType: "APN", appName: "a", content: { certificate, privateKey: "a2V5" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as Error).message).not.toContain(piece);
    expect((err as Error).message).toMatch(/^Comms API error 400: bad .*\[redacted\]$/);
  });
});

