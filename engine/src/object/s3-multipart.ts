/**
 * Objects above MULTIPART_THRESHOLD go up as a multipart upload (parallel parts); a failed
 * or aborted upload is aborted on the server so no parts linger.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const MULTIPART_PART_SIZE = 8 * 1024 * 1024;
const MULTIPART_CONCURRENCY = 4;

/** Uploads `body` to `target` in parts; resolves with the completed object's ETag (as sent). */
export async function putMultipart(
  client: S3Client,
  target: { Bucket: string; Key: string },
  body: Buffer,
  conditions: { IfNoneMatch?: string; IfMatch?: string },
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const created = await client.send(new CreateMultipartUploadCommand(target), { abortSignal: signal });
  const UploadId = created.UploadId!;
  try {
    const partCount = Math.ceil(body.length / MULTIPART_PART_SIZE);
    const etags: string[] = new Array(partCount);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < partCount; i = next++) {
        const part = body.subarray(i * MULTIPART_PART_SIZE, (i + 1) * MULTIPART_PART_SIZE);
        const res = await client.send(new UploadPartCommand({ ...target, UploadId, PartNumber: i + 1, Body: part }), {
          abortSignal: signal,
        });
        etags[i] = res.ETag!;
      }
    };
    await Promise.all(Array.from({ length: Math.min(MULTIPART_CONCURRENCY, partCount) }, worker));
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        ...target,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        ...conditions,
      }),
      { abortSignal: signal },
    );
    return done.ETag;
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ ...target, UploadId })).catch(() => {});
    throw err;
  }
}
