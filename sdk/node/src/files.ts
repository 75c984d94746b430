import type { Client } from '@grpc/grpc-js';
import type { Readable } from 'node:stream';

import { type CallOptions, type ResolvedCallOptions, callUnary, resolveCallOptions } from './call';
import {
  type ColumnProfile as ColumnProfileMessage,
  ColumnType,
  CompressionFormat,
  type CsvOptions as CsvOptionsMessage,
  type DataProfile as DataProfileMessage,
  type DigestSelection,
  type Digests as DigestsMessage,
  type DownloadChunk,
  type DownloadRequest,
  FileServiceService,
  type UploadChunk,
  type UploadOptions as UploadOptionsMessage,
  type UploadResult as UploadResultMessage,
} from './gen/heavylift/v1/files';
import { buildBlobRef } from './image';
import { type ByteSource, callByteStream, callServerStream, isByteSource } from './stream-call';
import {
  checkBoolean,
  checkIntegerInRange,
  checkKnownKeys,
  checkKnownOptions,
  checkNonEmptyString,
  checkOneOf,
  checkOptionsObject,
  checkString,
  invalidParameter,
  optionNames,
} from './validate';

/** Digests the daemon computes while bytes stream through. */
export const DIGEST_NAMES = ['sha256', 'sha512', 'blake2b512', 'xxh3', 'xxh128'] as const;
/** A digest: SHA-256, SHA-512, BLAKE2b-512 (`b2sum`), XXH3-64 (`xxhsum -H3`) or XXH3-128 (`xxhsum -H2`). */
export type DigestName = (typeof DIGEST_NAMES)[number];

/** Compression formats. */
export const COMPRESSION_FORMATS = ['zstd', 'gzip', 'brotli'] as const;
/** A compression format name. */
export type CompressionFormatName = (typeof COMPRESSION_FORMATS)[number];

/** Lower-case hex digests; a digest that was not requested is absent. */
export type FileDigests = Partial<Record<DigestName, string>>;

/** Bytes for an upload: a Node Readable (a busboy file stream, `fs.createReadStream`), any async iterable of chunks, or a Buffer. */
export type UploadSource = ByteSource;

/** A blob for the unary file tasks: bytes, or `{ path }` under the daemon's blob root. */
export type FileInput = Uint8Array | { data: Uint8Array } | { path: string };

/** CSV dialect options. */
export interface CsvOptions {
  /** Field delimiter, one character. Default: detected among `,`, `;`, tab and `|` (`,` when unclear). */
  delimiter?: string;
  /** The first row is data, and the columns are named `column_1`, `column_2`, ... Default: `false`. */
  noHeader?: boolean;
}

/** Options of {@link FileMethods.upload}. */
export interface UploadOptions extends CallOptions {
  /** Digests to compute. Default: all five. */
  digests?: readonly DigestName[];
  /** Stores the bytes under the daemon's blob root, keyed (and deduplicated) by SHA-256. Default: `false`. */
  store?: boolean;
  /** Compresses the stream; with `store`, the stored copy is compressed. Default: none. */
  compression?: CompressionFormatName;
  /** Compression level: zstd 1..19 (default 3), gzip 1..9 (default 6), brotli 1..11 (default 5). */
  compressionLevel?: number;
  /** Profiles the bytes as CSV while they stream. `true` or CSV options. Default: `false`. */
  profileCsv?: boolean | CsvOptions;
  /** Expected size in bytes; the daemon rejects an upload of any other size. Default: unknown. */
  expectedBytes?: number;
  /** Bytes per message: smaller chunks of the source are gathered up to it, larger ones split. 1 KiB..4 MiB. Default: 1 MiB. */
  chunkBytes?: number;
  /**
   * Stores the bytes (compressed, when `compression` is set) in the daemon's MongoDB GridFS bucket
   * (`--files-gridfs-uri`), with `_id` and filename `<sha256><extension>`, deduplicated. Default: `false`.
   */
  gridfs?: boolean;
}

/** The source of {@link FileMethods.download}: a file under the blob root, or a GridFS file by `_id`. */
export type DownloadSource = { path: string } | { gridfsId: string };

/** Options of {@link FileMethods.download}. */
export interface DownloadOptions extends CallOptions {
  /** Decompresses on the way: `true` sniffs zstd or gzip from the magic bytes; a format name forces it. Default: `false`. */
  decompress?: boolean | CompressionFormatName;
  /** Decompressed bytes beyond this fail the stream with an InvalidArgumentError. Default: the daemon's `files.max_decompressed_bytes`. */
  maxOutputBytes?: number;
  /** Bytes per message, 4 KiB..4 MiB. Default: 256 KiB. */
  chunkBytes?: number;
}

/** Emitted once as `'info'` by the stream of {@link FileMethods.download}, before its first bytes. */
export interface DownloadInfo {
  /** Stored size in bytes, before decompression. */
  storedBytes: number;
  /** The format being decoded, when decompressing. */
  format?: CompressionFormatName;
}

/** Per-column statistics of a profile. */
export interface ColumnProfile {
  name: string;
  /** Inferred type. */
  type: 'null' | 'boolean' | 'integer' | 'number' | 'timestamp' | 'string' | 'object' | 'array' | 'mixed';
  /** Rows in which the column is present. */
  count: number;
  /** Empty or null values, plus rows where the column is absent. */
  nullCount: number;
  /** Minimum and maximum: numeric for integer and number columns, otherwise by bytes. Absent when all values are null. */
  min?: string;
  max?: string;
  /** Mean of integer and number columns. */
  mean?: number;
  /** HyperLogLog estimate of distinct non-null values (about 0.8% standard error). */
  distinctEstimate: number;
  /** Most frequent values, most frequent first. */
  topValues: { value: string; count: number }[];
}

/** A CSV or NDJSON profile. */
export interface DataProfile {
  rows: number;
  bytes: number;
  columns: ColumnProfile[];
  /** The CSV delimiter used. */
  delimiter?: string;
  badRowCount: number;
  /** The first bad rows with their 1-based line numbers. */
  badRows: { line: number; reason: string; excerpt: string }[];
}

/** Result of {@link FileMethods.upload}. */
export interface UploadResult {
  bytes: number;
  digests: FileDigests;
  /** MIME type sniffed from the first bytes, for example `'image/png'` or `'text/csv'`. */
  contentType: string;
  /** Path under the blob root where the bytes were stored, when `store` was set. */
  storedPath?: string;
  /** True when identical bytes were stored already. */
  deduplicated: boolean;
  /** Size after compression, when `compression` was set. */
  compressedBytes?: number;
  /** CSV profile, when `profileCsv` was set. */
  profile?: DataProfile;
  /** `_id` of the GridFS file, when `gridfs` was set. */
  gridfsId?: string;
  /** True when the GridFS bucket held the bytes already, when `gridfs` was set. */
  gridfsDeduplicated?: boolean;
}

/** Methods of the daemon's file tasks. */
export interface FileMethods {
  /**
   * Streams bytes of any size to the daemon, which digests, sniffs and optionally compresses,
   * stores and profiles them in one pass. Node keeps one message being gathered (`chunkBytes`)
   * and a few being sent. Writes wait for the gRPC stream to drain, and the daemon reads at most
   * a few messages ahead of its workers, so a slow daemon slows the source down.
   *
   * @example
   * const result = await client.files.upload(fs.createReadStream('big.bin'), { digests: ['sha256'] });
   */
  upload(source: UploadSource, options?: UploadOptions): Promise<UploadResult>;
  /**
   * Streams one file of a busboy multipart parse (`busboy.on('file', (name, file, info) => ...)`)
   * into {@link FileMethods.upload}. On a daemon error the rest of the file is drained, so busboy
   * can finish the request.
   *
   * @example
   * bb.on('file', (name, file, info) => { uploads.push(client.files.uploadMultipartFile(file, info, { store: true })); });
   */
  uploadMultipartFile(
    file: NodeJS.ReadableStream & AsyncIterable<Uint8Array>,
    info: { filename?: string; mimeType?: string },
    options?: UploadOptions,
  ): Promise<UploadResult & { filename?: string; declaredMimeType?: string }>;
  /**
   * Streams a stored file back as a Node Readable, optionally decompressed, without buffering it:
   * the daemon produces the next message only after the previous one reached Node, and the Readable
   * stops reading when its consumer does. Destroying the Readable cancels the call. The stream emits
   * `'info'` ({@link DownloadInfo}) before its first bytes, and daemon errors as HeavyliftErrors.
   *
   * @example
   * app.get('/files/:id', (req, res) => {
   *   pipeline(client.files.download({ gridfsId: req.params.id }, { decompress: true }), res, () => {});
   * });
   */
  download(source: DownloadSource, options?: DownloadOptions): Readable;
  /** Digests and sniffs a blob (task `files.digest`). */
  digest(input: FileInput, options?: CallOptions & { digests?: readonly DigestName[] }): Promise<{ bytes: number; digests: FileDigests; contentType: string }>;
  /** Compresses a blob (task `files.compress`); the output is returned, or written to `outputPath` under the blob root. */
  compress(
    input: FileInput,
    options: CallOptions & { format: CompressionFormatName; level?: number; outputPath?: string },
  ): Promise<{ inputBytes: number; outputBytes: number; data?: Buffer }>;
  /** Decompresses a blob (task `files.decompress`), stopping with an InvalidArgumentError past `maxOutputBytes`. */
  decompress(
    input: FileInput,
    options?: CallOptions & { format?: CompressionFormatName; maxOutputBytes?: number; outputPath?: string },
  ): Promise<{ inputBytes: number; outputBytes: number; data?: Buffer; format: CompressionFormatName }>;
  /** Profiles CSV (task `files.profile_csv`). */
  profileCsv(input: FileInput, options?: CallOptions & CsvOptions): Promise<DataProfile>;
  /** Profiles NDJSON (task `files.profile_ndjson`). */
  profileNdjson(input: FileInput, options?: CallOptions): Promise<DataProfile>;
  /** Converts CSV to NDJSON (task `files.csv_to_ndjson`). */
  csvToNdjson(
    input: FileInput,
    options?: CallOptions & CsvOptions & { stringsOnly?: boolean; outputPath?: string },
  ): Promise<{ rows: number; outputBytes: number; data?: Buffer; badRowCount: number }>;
}

const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Field number of `data` in heavylift.v1.UploadChunk. */
export const UPLOAD_CHUNK_DATA_FIELD = 2;

// Parameters of each file method, besides the call options.
const CSV_OPTION_NAMES = optionNames<CsvOptions>({ delimiter: true, noHeader: true });
const DOWNLOAD_OPTION_NAMES = optionNames<Omit<DownloadOptions, keyof CallOptions>>({
  decompress: true,
  maxOutputBytes: true,
  chunkBytes: true,
});
const UPLOAD_OPTION_NAMES = optionNames<Omit<UploadOptions, keyof CallOptions>>({
  digests: true,
  store: true,
  compression: true,
  compressionLevel: true,
  profileCsv: true,
  expectedBytes: true,
  gridfs: true,
  chunkBytes: true,
});
const DIGEST_OPTION_NAMES = ['digests'];
const COMPRESS_OPTION_NAMES = ['format', 'level', 'outputPath'];
const DECOMPRESS_OPTION_NAMES = ['format', 'maxOutputBytes', 'outputPath'];
const CSV_TO_NDJSON_OPTION_NAMES = [...CSV_OPTION_NAMES, 'stringsOnly', 'outputPath'];

const FORMAT_TO_PROTO: Record<CompressionFormatName, CompressionFormat> = {
  zstd: CompressionFormat.COMPRESSION_FORMAT_ZSTD,
  gzip: CompressionFormat.COMPRESSION_FORMAT_GZIP,
  brotli: CompressionFormat.COMPRESSION_FORMAT_BROTLI,
};

/** Highest compression level of each format. */
const MAX_LEVEL: Record<CompressionFormatName, number> = { zstd: 19, gzip: 9, brotli: 11 };

const COLUMN_TYPES: Record<number, ColumnProfile['type']> = {
  [ColumnType.COLUMN_TYPE_NULL]: 'null',
  [ColumnType.COLUMN_TYPE_BOOLEAN]: 'boolean',
  [ColumnType.COLUMN_TYPE_INTEGER]: 'integer',
  [ColumnType.COLUMN_TYPE_NUMBER]: 'number',
  [ColumnType.COLUMN_TYPE_TIMESTAMP]: 'timestamp',
  [ColumnType.COLUMN_TYPE_STRING]: 'string',
  [ColumnType.COLUMN_TYPE_OBJECT]: 'object',
  [ColumnType.COLUMN_TYPE_ARRAY]: 'array',
  [ColumnType.COLUMN_TYPE_MIXED]: 'mixed',
};

function buildDigestSelection(value: unknown, field: string): DigestSelection {
  const selection: DigestSelection = { sha256: false, sha512: false, blake2b512: false, xxh364: false, xxh128: false };
  if (value === undefined) {
    return selection;
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidParameter(field, `non-empty array of ${DIGEST_NAMES.join(', ')}`, value);
  }
  value.forEach((name: unknown, index: number) => {
    const digest = checkOneOf(name, `${field}[${index}]`, DIGEST_NAMES);
    selection[digest === 'xxh3' ? 'xxh364' : digest] = true;
  });
  return selection;
}

function buildCsvOptions(options: CsvOptions | undefined, field: string): CsvOptionsMessage {
  const checked = checkOptionsObject(options, field);
  const delimiter = checked.delimiter === undefined ? '' : checkString(checked.delimiter, `${field}.delimiter`);
  if (delimiter.length > 1 || Buffer.byteLength(delimiter) > 1) {
    throw invalidParameter(`${field}.delimiter`, 'one ASCII character', delimiter);
  }
  const noHeader = checked.noHeader === undefined ? false : checkBoolean(checked.noHeader, `${field}.noHeader`);
  return { delimiter, noHeader };
}

function checkLevel(value: unknown, format: CompressionFormatName | undefined, field: string): number {
  if (value === undefined) {
    return 0;
  }
  return checkIntegerInRange(value, field, 1, MAX_LEVEL[format ?? 'brotli']);
}

/** Validates the upload options and builds the first message's options. */
export function buildUploadOptions(options: UploadOptions | undefined): { message: UploadOptionsMessage; chunkBytes: number } {
  const checked = checkOptionsObject(options, 'options');
  checkKnownOptions(checked, 'options', UPLOAD_OPTION_NAMES);
  const compression = checked.compression === undefined ? undefined : checkOneOf(checked.compression, 'compression', COMPRESSION_FORMATS);
  if (checked.compressionLevel !== undefined && compression === undefined) {
    throw invalidParameter('compressionLevel', 'to be set together with compression', checked.compressionLevel);
  }
  const profile = checked.profileCsv;
  const profileCsv = profile !== undefined && profile !== false;
  if (profile !== undefined && typeof profile !== 'boolean' && (typeof profile !== 'object' || profile === null)) {
    throw invalidParameter('profileCsv', 'boolean or CSV options object', profile);
  }
  if (typeof profile === 'object') {
    checkKnownKeys(profile, 'profileCsv', CSV_OPTION_NAMES);
  }
  const expectedBytes =
    checked.expectedBytes === undefined ? 0 : checkIntegerInRange(checked.expectedBytes, 'expectedBytes', 0, Number.MAX_SAFE_INTEGER);
  const chunkBytes =
    checked.chunkBytes === undefined ? DEFAULT_CHUNK_BYTES : checkIntegerInRange(checked.chunkBytes, 'chunkBytes', 1024, 4 << 20);
  return {
    message: {
      digests: buildDigestSelection(checked.digests, 'digests'),
      store: checked.store === undefined ? false : checkBoolean(checked.store, 'store'),
      compression: compression === undefined ? CompressionFormat.COMPRESSION_FORMAT_UNSPECIFIED : FORMAT_TO_PROTO[compression],
      compressionLevel: checkLevel(checked.compressionLevel, compression, 'compressionLevel'),
      profileCsv,
      csv: buildCsvOptions(typeof profile === 'object' ? profile : undefined, 'profileCsv'),
      expectedBytes,
      gridfs: buildGridfsOption(options),
    },
    chunkBytes,
  };
}

function toDigests(message: DigestsMessage | undefined): FileDigests {
  const digests: FileDigests = {};
  if (!message) {
    return digests;
  }
  if (message.sha256) digests.sha256 = message.sha256;
  if (message.sha512) digests.sha512 = message.sha512;
  if (message.blake2b512) digests.blake2b512 = message.blake2b512;
  if (message.xxh364) digests.xxh3 = message.xxh364;
  if (message.xxh128) digests.xxh128 = message.xxh128;
  return digests;
}

function toColumn(column: ColumnProfileMessage): ColumnProfile {
  const type = COLUMN_TYPES[column.type] ?? 'mixed';
  const numeric = type === 'integer' || type === 'number';
  return {
    name: column.name,
    type,
    count: column.count,
    nullCount: column.nullCount,
    ...(column.min !== '' || column.max !== '' ? { min: column.min, max: column.max } : {}),
    ...(numeric ? { mean: column.mean } : {}),
    distinctEstimate: column.distinctEstimate,
    topValues: column.topValues.map((entry) => ({ value: entry.value, count: entry.count })),
  };
}

/** Converts a profile message to the SDK's shape. */
export function toDataProfile(message: DataProfileMessage | undefined): DataProfile {
  const profile = message ?? { rows: 0, bytes: 0, columns: [], delimiter: '', badRowCount: 0, badRows: [] };
  return {
    rows: profile.rows,
    bytes: profile.bytes,
    columns: profile.columns.map(toColumn),
    ...(profile.delimiter ? { delimiter: profile.delimiter } : {}),
    badRowCount: profile.badRowCount,
    badRows: profile.badRows.map((row) => ({ line: row.line, reason: row.reason, excerpt: row.excerpt })),
  };
}

function toUploadResult(message: UploadResultMessage, options: UploadOptionsMessage): UploadResult {
  return {
    bytes: message.bytes,
    digests: toDigests(message.digests),
    contentType: message.contentType,
    ...(message.storedPath ? { storedPath: message.storedPath } : {}),
    deduplicated: message.deduplicated,
    ...(options.compression !== CompressionFormat.COMPRESSION_FORMAT_UNSPECIFIED ? { compressedBytes: message.compressedBytes } : {}),
    ...(options.profileCsv ? { profile: toDataProfile(message.profile) } : {}),
  };
}

/**
 * Sends `source` over one FileService.Upload call in messages of at most `chunkBytes` bytes,
 * waiting for the stream to drain whenever grpc-js reports its buffer full.
 */
export function callUpload(
  client: Client,
  source: UploadSource,
  options: UploadOptionsMessage,
  chunkBytes: number,
  resolved: ResolvedCallOptions,
): Promise<UploadResultMessage> {
  return callByteStream<UploadChunk, UploadResultMessage>(
    client,
    FileServiceService.upload,
    { options, data: Buffer.alloc(0) },
    UPLOAD_CHUNK_DATA_FIELD,
    source,
    chunkBytes,
    resolved,
  );
}

/** Reads the `gridfs` upload option. */
function buildGridfsOption(options: UploadOptions | undefined): boolean {
  const value = (options as { gridfs?: unknown } | undefined)?.gridfs;
  return value === undefined ? false : checkBoolean(value, 'gridfs');
}

function toGridfsResult(message: UploadResultMessage, options: UploadOptionsMessage): Partial<UploadResult> {
  return options.gridfs ? { gridfsId: message.gridfsId, gridfsDeduplicated: message.gridfsDeduplicated } : {};
}

/** Validates the download source and options and builds the request. */
export function buildDownloadRequest(source: DownloadSource, options: DownloadOptions | undefined): DownloadRequest {
  const from = checkOptionsObject(source, 'source') as { path?: unknown; gridfsId?: unknown };
  if ((from.path === undefined) === (from.gridfsId === undefined)) {
    throw invalidParameter('source', 'exactly one of { path } and { gridfsId }', source);
  }
  checkKnownKeys(from, 'source', ['path', 'gridfsId']);
  const checked = checkOptionsObject(options, 'options');
  checkKnownOptions(checked, 'options', DOWNLOAD_OPTION_NAMES);
  const decompress = checked.decompress;
  let format = CompressionFormat.COMPRESSION_FORMAT_UNSPECIFIED;
  if (typeof decompress === 'string') {
    format = FORMAT_TO_PROTO[checkOneOf(decompress, 'decompress', COMPRESSION_FORMATS)];
  } else if (decompress !== undefined) {
    checkBoolean(decompress, 'decompress');
  }
  return {
    path: from.path === undefined ? '' : checkNonEmptyString(from.path, 'source.path'),
    gridfsId: from.gridfsId === undefined ? '' : checkNonEmptyString(from.gridfsId, 'source.gridfsId'),
    decompress: decompress !== undefined && decompress !== false,
    format,
    maxOutputBytes:
      checked.maxOutputBytes === undefined
        ? 0
        : checkIntegerInRange(checked.maxOutputBytes, 'maxOutputBytes', 1, Number.MAX_SAFE_INTEGER),
    chunkBytes: checked.chunkBytes === undefined ? 0 : checkIntegerInRange(checked.chunkBytes, 'chunkBytes', 4096, 4 << 20),
  };
}

/**
 * Runs one FileService.Download call and returns its bytes as a Readable. grpc-js reads the
 * next message only while the Readable wants data, so HTTP/2 flow control reaches the daemon.
 */
export function callDownload(client: Client, request: DownloadRequest, resolved: ResolvedCallOptions): Readable {
  let first = true;
  return callServerStream<DownloadRequest, DownloadChunk>(client, FileServiceService.download, request, resolved, (chunk, output) => {
    if (first) {
      first = false;
      const name = (Object.keys(FORMAT_TO_PROTO) as CompressionFormatName[]).find((key) => FORMAT_TO_PROTO[key] === chunk.format);
      const info: DownloadInfo = { storedBytes: chunk.storedBytes, ...(name ? { format: name } : {}) };
      output.emit('info', info);
    }
    return chunk.data.length === 0 || output.push(chunk.data);
  });
}

/** Builds the `files` methods over `channel`. */
export function createFileMethods(channel: () => Client, defaultDeadlineMs: number): FileMethods {
  const uploadWith = async (source: UploadSource, options: UploadOptions | undefined): Promise<UploadResult> => {
    if (!isByteSource(source)) {
      throw invalidParameter('source', 'Readable stream, async iterable of Uint8Array, or Uint8Array', source);
    }
    const { message, chunkBytes } = buildUploadOptions(options);
    const resolved = resolveCallOptions(options, defaultDeadlineMs);
    const response = await callUpload(channel(), source, message, chunkBytes, resolved);
    return { ...toUploadResult(response, message), ...toGridfsResult(response, message) };
  };

  return {
    upload: uploadWith,

    uploadMultipartFile: async (file, info, options) => {
      try {
        const result = await uploadWith(file, options);
        return { ...result, filename: info?.filename, declaredMimeType: info?.mimeType };
      } catch (error) {
        // Busboy waits until every file stream is consumed before it finishes.
        (file as NodeJS.ReadableStream).resume();
        throw error;
      }
    },

    download: (source, options) => {
      const request = buildDownloadRequest(source, options);
      return callDownload(channel(), request, resolveCallOptions(options, defaultDeadlineMs));
    },

    digest: async (input, options) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownOptions(checked, 'options', DIGEST_OPTION_NAMES);
      const request = { input: buildBlobRef(input), digests: buildDigestSelection(checked.digests, 'digests') };
      const resolved = resolveCallOptions(options, defaultDeadlineMs);
      const response = await callUnary(channel(), FileServiceService.digest, request, resolved);
      return { bytes: response.bytes, digests: toDigests(response.digests), contentType: response.contentType };
    },

    compress: async (input, options) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownOptions(checked, 'options', COMPRESS_OPTION_NAMES);
      const format = checkOneOf(checked.format, 'format', COMPRESSION_FORMATS);
      const request = {
        input: buildBlobRef(input),
        format: FORMAT_TO_PROTO[format],
        level: checkLevel(checked.level, format, 'level'),
        outputPath: checked.outputPath === undefined ? '' : checkNonEmptyString(checked.outputPath, 'outputPath'),
      };
      const resolved = resolveCallOptions(options, defaultDeadlineMs);
      const response = await callUnary(channel(), FileServiceService.compress, request, resolved);
      return {
        inputBytes: response.inputBytes,
        outputBytes: response.outputBytes,
        ...(request.outputPath ? {} : { data: response.data }),
      };
    },

    decompress: async (input, options) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownOptions(checked, 'options', DECOMPRESS_OPTION_NAMES);
      const format = checked.format === undefined ? undefined : checkOneOf(checked.format, 'format', COMPRESSION_FORMATS);
      const request = {
        input: buildBlobRef(input),
        format: format === undefined ? CompressionFormat.COMPRESSION_FORMAT_UNSPECIFIED : FORMAT_TO_PROTO[format],
        maxOutputBytes:
          checked.maxOutputBytes === undefined
            ? 0
            : checkIntegerInRange(checked.maxOutputBytes, 'maxOutputBytes', 1, Number.MAX_SAFE_INTEGER),
        outputPath: checked.outputPath === undefined ? '' : checkNonEmptyString(checked.outputPath, 'outputPath'),
      };
      const resolved = resolveCallOptions(options, defaultDeadlineMs);
      const response = await callUnary(channel(), FileServiceService.decompress, request, resolved);
      const name = (Object.keys(FORMAT_TO_PROTO) as CompressionFormatName[]).find((key) => FORMAT_TO_PROTO[key] === response.format) ?? 'zstd';
      return {
        inputBytes: response.inputBytes,
        outputBytes: response.outputBytes,
        format: name,
        ...(request.outputPath ? {} : { data: response.data }),
      };
    },

    profileCsv: async (input, options) => {
      checkKnownOptions(checkOptionsObject(options, 'options'), 'options', CSV_OPTION_NAMES);
      const request = { input: buildBlobRef(input), csv: buildCsvOptions(options, 'options') };
      const resolved = resolveCallOptions(options, defaultDeadlineMs);
      const response = await callUnary(channel(), FileServiceService.profileCsv, request, resolved);
      return toDataProfile(response.profile);
    },

    profileNdjson: async (input, options) => {
      checkKnownOptions(checkOptionsObject(options, 'options'), 'options', []);
      const resolved = resolveCallOptions(options, defaultDeadlineMs);
      const response = await callUnary(channel(), FileServiceService.profileNdjson, { input: buildBlobRef(input) }, resolved);
      return toDataProfile(response.profile);
    },

    csvToNdjson: async (input, options) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownOptions(checked, 'options', CSV_TO_NDJSON_OPTION_NAMES);
      const request = {
        input: buildBlobRef(input),
        csv: buildCsvOptions(options, 'options'),
        stringsOnly: checked.stringsOnly === undefined ? false : checkBoolean(checked.stringsOnly, 'stringsOnly'),
        outputPath: checked.outputPath === undefined ? '' : checkNonEmptyString(checked.outputPath, 'outputPath'),
      };
      const resolved = resolveCallOptions(options, defaultDeadlineMs);
      const response = await callUnary(channel(), FileServiceService.csvToNdjson, request, resolved);
      return {
        rows: response.rows,
        outputBytes: response.outputBytes,
        badRowCount: response.badRowCount,
        ...(request.outputPath ? {} : { data: response.data }),
      };
    },
  };
}
