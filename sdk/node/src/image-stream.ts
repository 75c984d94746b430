// The streaming forms of `image.transform`: TransformUpload takes a source in chunks, and
// TransformStream returns the outputs in pieces.
import type { Client } from '@grpc/grpc-js';
import type { Readable } from 'node:stream';

import type { ResolvedCallOptions } from './call';
import {
  ImageServiceService,
  type TransformRequest,
  type TransformResponse,
  type TransformStreamChunk,
  type TransformUploadChunk,
} from './gen/heavylift/v1/image';
import {
  type ImageMetadataResult,
  type OutputFormatName,
  TRANSFORM_OPTION_NAMES,
  type TransformOptions,
  type TransformResult,
  buildTransformPipeline,
  outputFormatName,
  toMetadataResult,
  toTransformResult,
} from './image-transform';
import { type ByteSource, callByteStream, callServerStream, isByteSource } from './stream-call';
import { checkIntegerInRange, checkKnownKeys, checkOptionsObject, invalidParameter } from './validate';

/** Default bytes of source per TransformUpload message; the daemon accepts up to `image.max_stream_chunk_bytes` (1 MiB by default). */
const DEFAULT_UPLOAD_CHUNK_BYTES = 256 << 10;
/** Field number of `data` in heavylift.v1.TransformUploadChunk. */
export const TRANSFORM_UPLOAD_CHUNK_DATA_FIELD = 2;

/** Parameters of `client.image.transformUpload`. */
export interface TransformUploadOptions extends Omit<TransformOptions, 'input'> {
  /**
   * The source image as a Buffer, a Node Readable (`fs.createReadStream`, a busboy file stream)
   * or an async iterable of chunks. The daemon bounds the whole stream by
   * `image.max_stream_input_bytes` and checks the pixels as soon as the header has arrived.
   * Required.
   */
  input: ByteSource;
  /**
   * Bytes per message: smaller chunks of `input` are gathered up to it, larger ones split. 1024 to
   * 4 MiB; the daemon rejects more than `image.max_stream_chunk_bytes`. Default: 256 KiB.
   */
  chunkBytes?: number;
}

/**
 * One piece of an output of `client.image.transformStream`. Pieces come in output order, and the
 * `data` of the pieces of one output concatenated is the encoded image.
 */
export interface TransformStreamPiece {
  /** Index of the output in `outputs`. */
  outputIndex: number;
  width: number;
  height: number;
  format: OutputFormatName;
  pages: number;
  data: Buffer;
  /** True on the last piece of the output. */
  outputEnd: boolean;
}

/** Emitted once as `'info'` by the stream of `client.image.transformStream`, before its first piece. */
export interface TransformStreamInfo {
  source: ImageMetadataResult;
  warnings: string[];
}

/** Validates the upload options and returns the request, the source and the chunk size. */
export function buildTransformUpload(options: TransformUploadOptions): {
  request: TransformRequest;
  source: ByteSource;
  chunkBytes: number;
} {
  const checked = checkOptionsObject(options, 'options') as Record<string, unknown>;
  checkKnownKeys(checked, 'options', [...TRANSFORM_OPTION_NAMES, 'chunkBytes']);
  if (!isByteSource(checked.input)) {
    throw invalidParameter('input', 'Buffer, Uint8Array, Readable stream or async iterable of Uint8Array', checked.input);
  }
  const chunkBytes =
    checked.chunkBytes === undefined ? DEFAULT_UPLOAD_CHUNK_BYTES : checkIntegerInRange(checked.chunkBytes, 'chunkBytes', 1024, 4 << 20);
  return { request: { input: undefined, ...buildTransformPipeline(checked) }, source: checked.input, chunkBytes };
}

/** Runs one TransformUpload call and returns its outputs. */
export async function callTransformUpload(
  client: Client,
  upload: ReturnType<typeof buildTransformUpload>,
  resolved: ResolvedCallOptions,
): Promise<TransformResult> {
  const response = await callByteStream<TransformUploadChunk, TransformResponse>(
    client,
    ImageServiceService.transformUpload,
    { request: upload.request, data: Buffer.alloc(0) },
    TRANSFORM_UPLOAD_CHUNK_DATA_FIELD,
    upload.source,
    upload.chunkBytes,
    resolved,
  );
  return toTransformResult(response);
}

/**
 * Runs one TransformStream call and returns an object-mode Readable of
 * {@link TransformStreamPiece}s. The daemon encodes the next piece only after this one was read.
 */
export function callTransformStream(client: Client, request: TransformRequest, resolved: ResolvedCallOptions): Readable {
  let first = true;
  let header = { width: 0, height: 0, format: 'jpeg' as OutputFormatName, pages: 1 };
  return callServerStream<TransformRequest, TransformStreamChunk>(
    client,
    ImageServiceService.transformStream,
    request,
    resolved,
    (chunk, output) => {
      if (first) {
        first = false;
        const info: TransformStreamInfo = { source: toMetadataResult(chunk.source), warnings: chunk.warnings };
        output.emit('info', info);
      }
      if (chunk.image) {
        header = { width: chunk.image.width, height: chunk.image.height, format: outputFormatName(chunk.image.format), pages: chunk.image.pages };
      }
      const piece: TransformStreamPiece = { outputIndex: chunk.outputIndex, ...header, data: chunk.data, outputEnd: chunk.outputEnd };
      return output.push(piece);
    },
    true,
  );
}
