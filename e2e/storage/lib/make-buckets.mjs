// Makes the buckets and the container that e2e/storage/up's URLs name, each with the server's
// official client (a bucket that is already there is kept). Reads the servers from the JSON in
// SOULBOX_STORAGE_SETUP (written by lib/servers.sh); progress on stderr; exits 1 naming the
// server that refused.
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";

const setup = JSON.parse(process.env.SOULBOX_STORAGE_SETUP ?? "");

/** CreateBucket on a MinIO instance; "already yours" counts as made. */
async function s3Bucket({ endpoint, region, bucket, accessKeyId, secretAccessKey }) {
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (err?.name !== "BucketAlreadyOwnedByYou") throw err;
  } finally {
    client.destroy();
  }
}

/** A bucket on fake-gcs-server (no auth on an emulator endpoint); 409 means it is there. */
async function gcsBucket({ endpoint, project, bucket }) {
  const storage = new Storage({ apiEndpoint: endpoint, projectId: project });
  try {
    await storage.createBucket(bucket);
  } catch (err) {
    if (err?.code !== 409) throw err;
  }
}

/** A container on Azurite with the account's shared key. */
async function azContainer({ endpoint, accountName, accountKey, container }) {
  const credential = new StorageSharedKeyCredential(accountName, accountKey);
  const service = new BlobServiceClient(endpoint, credential);
  await service.getContainerClient(container).createIfNotExists();
}

const steps = [
  ["s3", () => s3Bucket(setup.s3)],
  ["r2", () => s3Bucket(setup.r2)],
  ["gcs", () => gcsBucket(setup.gcs)],
  ["azblob", () => azContainer(setup.azblob)],
];
for (const [name, make] of steps) {
  try {
    await make();
  } catch (err) {
    console.error(`storage: making the bucket on ${name} failed: ${err?.stack ?? err}`);
    process.exit(1);
  }
}
