import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  checkCredentials,
  displayUrl,
  loadCredentialsDir,
  parseCredentialsJson,
  parseStorageUrl,
} from "./config.js";
import { isStorageError } from "./object-store.js";

describe("parseStorageUrl", () => {
  it.each([
    [
      "s3://snaps",
      { scheme: "s3", bucket: "snaps", prefix: "", region: "us-east-1", pathStyle: false },
    ],
    [
      "s3://snaps/prod/eu?region=eu-west-1&endpoint=http://127.0.0.1:9000/&pathStyle=true",
      {
        scheme: "s3",
        bucket: "snaps",
        prefix: "prod/eu",
        region: "eu-west-1",
        pathStyle: true,
        endpoint: "http://127.0.0.1:9000",
      },
    ],
    [
      "r2://snaps/p?accountId=0123456789abcdef0123456789abcdef",
      {
        scheme: "r2",
        bucket: "snaps",
        prefix: "p",
        region: "auto",
        pathStyle: false,
        accountId: "0123456789abcdef0123456789abcdef",
        endpoint: "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
      },
    ],
    [
      "r2://snaps/p?endpoint=http://127.0.0.1:9001",
      {
        scheme: "r2",
        bucket: "snaps",
        prefix: "p",
        region: "auto",
        pathStyle: true,
        endpoint: "http://127.0.0.1:9001",
      },
    ],
    ["gs://snaps/a/b/?project=p1", { scheme: "gs", bucket: "snaps", prefix: "a/b", project: "p1" }],
    [
      "azblob://acct1/snaps/x?endpoint=http://127.0.0.1:10000/acct1",
      {
        scheme: "azblob",
        account: "acct1",
        container: "snaps",
        prefix: "x",
        endpoint: "http://127.0.0.1:10000/acct1",
      },
    ],
    [
      "azblob://acct1/snaps",
      { scheme: "azblob", account: "acct1", container: "snaps", prefix: "" },
    ],
    ["file:///var/lib/soulbox/", { scheme: "file", path: "/var/lib/soulbox" }],
    ["file://localhost/data", { scheme: "file", path: "/data" }],
    [
      "file:///data?owner=65532:65533",
      { scheme: "file", path: "/data", owner: { uid: 65532, gid: 65533 } },
    ],
  ])("%s", (url, want) => {
    expect(parseStorageUrl(url)).toEqual(want);
  });

  it.each([
    ["not a url", /not a URL/],
    ["ftp://bucket/x", /unknown scheme ftp/],
    ["s3:///prefix", /missing bucket/],
    ["s3://Bad_Bucket/x", /not a valid S3 bucket/],
    ["s3://bkt/x?endpoint=ftp://h", /not http or https/],
    ["s3://bkt/x?endpoint=nope", /not a URL/],
    ["s3://bkt/x?endpoint=http://u:p@h", /endpoint carries credentials/],
    ["s3://bkt/x?secretAccessKey=abc", /unknown option "secretAccessKey".*credentials Secret/],
    ["s3://bkt/x?region=a&region=b", /given twice/],
    ["s3://bkt/x?pathStyle=yes", /true or false/],
    ["s3://bkt/x?region=", /is empty/],
    ["s3://key:secret@b1/x", /credentials in the URL/],
    ["s3://bkt:9000/x", /port after the bucket/],
    ["s3://bkt/a%2F..%2Fb", /\.\. segments/],
    ["r2://bkt/x", /needs \?accountId/],
    ["r2://bkt/x?accountId=nothex", /32 hex digits/],
    ["r2://bkt/x?region=auto", /unknown option "region"/],
    ["gs://bkt/x?region=us", /unknown option "region"/],
    ["azblob://acct1", /missing container/],
    ["azblob://acct1/Bad--Name", /not a valid Azure container/],
    ["azblob://a/c1", /not an Azure storage account/],
    ["azblob://acct1/cn1?sig=secret&sv=2020", /unknown option "sig"/],
    ["azblob://acct1/cn1?endpoint=https://h/acct1?sig=x", /unknown option|query/],
    ["file://relative/path", /absolute path/],
    ["file:///", /absolute directory other than \//],
    ["file:///data?x=1", /unknown option "x"/],
    ["file:///data?owner=user", /option owner "user" is not <uid>:<gid>/],
    ["file:///data?owner=1:99999999999", /option owner "1:99999999999" is not <uid>:<gid>/],
  ])("%s is refused", (url, message) => {
    let err: unknown;
    try {
      parseStorageUrl(url);
    } catch (e) {
      err = e;
    }
    expect(isStorageError(err, "InvalidConfig")).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  it("never echoes query values in its errors", () => {
    expect(() => parseStorageUrl("azblob://acct1/cn1?sig=SUPERSECRET")).toThrow(
      /^(?!.*SUPERSECRET)/s,
    );
  });
});

describe("displayUrl", () => {
  it.each([
    [
      "s3://bkt/p?endpoint=http://127.0.0.1:9000&pathStyle=true",
      "s3://bkt/p?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=us-east-1",
    ],
    [
      "r2://bkt?accountId=0123456789abcdef0123456789abcdef",
      "r2://bkt?endpoint=https%3A%2F%2F0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
    ],
    ["gs://bkt/p", "gs://bkt/p"],
    ["azblob://acct1/cn1/p", "azblob://acct1/cn1/p"],
    ["file:///data/x", "file:///data/x"],
  ])("%s", (url, want) => {
    expect(displayUrl(parseStorageUrl(url))).toBe(want);
  });
});

describe("checkCredentials", () => {
  const s3 = parseStorageUrl("s3://bkt");
  const gs = parseStorageUrl("gs://bkt");
  const az = parseStorageUrl("azblob://acct1/cn1");
  it.each([
    [s3, { accessKeyId: "a", secretAccessKey: "s" }],
    [s3, { accessKeyId: "a", secretAccessKey: "s", sessionToken: "t" }],
    [s3, {}],
    [gs, {}],
    [gs, { serviceAccountJson: JSON.stringify({ client_email: "x@y", private_key: "k" }) }],
    [az, { accountName: "acct1", accountKey: "k" }],
    [az, { sasToken: "sv=1&sig=2" }],
  ])("accepts %#", (config, creds) => {
    expect(checkCredentials(config, creds)).toEqual(creds);
  });

  it.each([
    [s3, { accessKeyId: "a" }, /both accessKeyId and secretAccessKey/],
    [s3, { sessionToken: "t" }, /needs accessKeyId/],
    [s3, { password: "hunter2" }, /unknown key "password"/],
    [s3, { accessKeyId: "", secretAccessKey: "s" }, /non-empty/],
    [gs, { serviceAccountJson: "{not json" }, /not JSON/],
    [gs, { serviceAccountJson: "{}" }, /lacks client_email/],
    [az, { accountName: "other", accountKey: "k" }, /not the URL's account/],
    [az, { accountKey: "k", sasToken: "s" }, /not both/],
    [az, { accountName: "acct1" }, /need accountKey or sasToken/],
  ])("refuses %#", (config, creds, message) => {
    expect(() => checkCredentials(config, creds)).toThrow(message);
    try {
      checkCredentials(config, creds);
    } catch (err) {
      expect(isStorageError(err, "InvalidConfig")).toBe(true);
      expect((err as Error).message).not.toMatch(/hunter2/);
    }
  });

  it("parses credentials JSON and refuses anything else", () => {
    expect(parseCredentialsJson('{"accessKeyId":"a"}')).toEqual({ accessKeyId: "a" });
    expect(() => parseCredentialsJson("[1]")).toThrow(/not a JSON object/);
    expect(() => parseCredentialsJson("{")).toThrow(/not a JSON object/);
  });
});

describe("loadCredentialsDir", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "soulbox-creds-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads one file per Secret key, skipping the volume's ..data entries", async () => {
    await writeFile(join(dir, "accessKeyId"), "AKIA\n");
    await writeFile(join(dir, "secretAccessKey"), "s3cr3t");
    await mkdir(join(dir, "..2026_01_01"));
    expect(await loadCredentialsDir(dir)).toEqual({
      accessKeyId: "AKIA",
      secretAccessKey: "s3cr3t",
    });
  });

  it("fails with InvalidConfig on a missing directory", async () => {
    await expect(loadCredentialsDir(join(dir, "missing"))).rejects.toMatchObject({
      code: "InvalidConfig",
    });
  });
});
