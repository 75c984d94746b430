import { status } from '@grpc/grpc-js';

import { UnimplementedError } from './errors';
import type { BlobRef } from './gen/heavylift/v1/common';
import {
  ImageFormat,
  type Thumbnail as ThumbnailMessage,
  type ThumbnailRequest,
  type ThumbnailResponse,
} from './gen/heavylift/v1/image';
import {
  checkBoolean,
  checkBytes,
  checkIntegerInRange,
  checkKnownKeys,
  checkNonEmptyString,
  checkOneOf,
  checkOptionsObject,
  checkPositiveInteger,
  invalidParameter,
  optionNames,
  toBuffer,
} from './validate';

/** Output formats that `image.thumbnail` can encode. */
export const IMAGE_FORMATS = ['jpeg', 'webp'] as const;

/** Name of an output format: `'jpeg'` or `'webp'`. */
export type ImageFormatName = (typeof IMAGE_FORMATS)[number];

/**
 * A source image: its bytes (a Buffer or Uint8Array, or `{ data }`), or `{ path }` for a file
 * under the daemon's blob root (`--blob-root`).
 */
export type ImageInput = Uint8Array | { data: Uint8Array } | { path: string };

/** Parameters of `client.image.thumbnail`. */
export interface ThumbnailOptions {
  /**
   * The source image: JPEG, PNG, WebP, GIF, TIFF or HEIF, detected from its bytes. A `path` is
   * relative to the daemon's blob root, and the daemon rejects paths that leave it.
   * The daemon bounds the input size and pixel count. Required.
   */
  input: ImageInput;
  /**
   * Output widths in pixels, one thumbnail per entry, returned in this order. Each height keeps
   * the aspect ratio. A width above the source width yields the source width, because
   * thumbnails are never enlarged. The daemon bounds each width and the count. Required.
   */
  widths: readonly number[];
  /** Output format. Default: `'jpeg'`. */
  format?: ImageFormatName;
  /** Encoder quality, 1 (smallest) to 100 (best). Default: 80, applied by the daemon. */
  quality?: number;
  /** Rotates and flips the image upright from its EXIF orientation tag. Default: `true`. */
  autoOrient?: boolean;
}

/** One encoded thumbnail. */
export interface Thumbnail {
  /** Width of the encoded image in pixels. */
  width: number;
  /** Height of the encoded image in pixels. */
  height: number;
  /** Format of `data`. */
  format: ImageFormatName;
  /** The encoded image. */
  data: Buffer;
}

/** Result of `client.image.thumbnail`. */
export interface ThumbnailResult {
  /** One thumbnail per requested width, in request order. */
  thumbnails: Thumbnail[];
  /** Width of the source image as stored, before auto-orientation, in pixels. */
  sourceWidth: number;
  /** Height of the source image as stored, before auto-orientation, in pixels. */
  sourceHeight: number;
  /** The decoder that read the source: `'jpeg'`, `'png'`, `'webp'`, `'gif'`, `'tiff'` or `'heif'`. */
  sourceFormat: string;
  /** The EXIF orientation tag of the source, 1..8 (1 when the source has none). */
  orientation: number;
}

const THUMBNAIL_OPTION_NAMES = optionNames<ThumbnailOptions>({ input: true, widths: true, format: true, quality: true, autoOrient: true });

const FORMAT_TO_PROTO: Record<ImageFormatName, ImageFormat> = {
  jpeg: ImageFormat.IMAGE_FORMAT_JPEG,
  webp: ImageFormat.IMAGE_FORMAT_WEBP,
};

/** Validates an image input and builds its BlobRef; errors name `field` (default `input`). */
export function buildBlobRef(input: unknown, field = 'input'): BlobRef {
  if (input instanceof Uint8Array) {
    return { source: { $case: 'data', data: toBuffer(input) } };
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalidParameter(field, 'Buffer, Uint8Array, { data } or { path }', input);
  }
  checkKnownKeys(input, field, ['data', 'path']);

  const hasData = 'data' in input && input.data !== undefined;
  const hasPath = 'path' in input && input.path !== undefined;
  if (hasData && hasPath) {
    throw invalidParameter(field, `exactly one of ${field}.data and ${field}.path`, input);
  }
  if (hasData) {
    return { source: { $case: 'data', data: checkBytes(input.data, `${field}.data`) } };
  }
  if (hasPath) {
    return { source: { $case: 'path', path: checkNonEmptyString(input.path, `${field}.path`) } };
  }
  throw invalidParameter(field, 'Buffer, Uint8Array, { data } or { path }', input);
}

/** Validates the thumbnail parameters and builds the request message. */
export function buildThumbnailRequest(options: ThumbnailOptions): ThumbnailRequest {
  const checked = checkOptionsObject(options, 'options');
  checkKnownKeys(checked, 'options', THUMBNAIL_OPTION_NAMES);

  if (checked.input === undefined) {
    throw invalidParameter('input', 'Buffer, Uint8Array, { data } or { path }', checked.input);
  }
  const input = buildBlobRef(checked.input);

  const widths = checked.widths;
  if (!Array.isArray(widths) || widths.length === 0) {
    throw invalidParameter('widths', 'non-empty array of positive integers', widths);
  }
  const checkedWidths = widths.map((width: unknown, index: number) => checkPositiveInteger(width, `widths[${index}]`));

  const format = checked.format === undefined ? 'jpeg' : checkOneOf(checked.format, 'format', IMAGE_FORMATS);
  // Zero selects the daemon's default quality.
  const quality = checked.quality === undefined ? 0 : checkIntegerInRange(checked.quality, 'quality', 1, 100);
  const autoOrient = checked.autoOrient === undefined ? undefined : checkBoolean(checked.autoOrient, 'autoOrient');

  return { input, widths: checkedWidths, format: FORMAT_TO_PROTO[format], quality, autoOrient };
}

function formatName(format: ImageFormat): ImageFormatName {
  switch (format) {
    case ImageFormat.IMAGE_FORMAT_UNSPECIFIED:
    case ImageFormat.IMAGE_FORMAT_JPEG:
      return 'jpeg';
    case ImageFormat.IMAGE_FORMAT_WEBP:
      return 'webp';
    default:
      // A newer daemon may encode a format that this SDK cannot name. Returning
      // the bytes under a wrong name would mislead the caller.
      throw new UnimplementedError(
        `The daemon returned a thumbnail in ImageFormat ${format}, which this SDK version does not know; upgrade the heavylift package`,
        { code: status.UNIMPLEMENTED },
      );
  }
}

function toThumbnail(message: ThumbnailMessage): Thumbnail {
  return { width: message.width, height: message.height, format: formatName(message.format), data: message.data };
}

/** Converts the response message to the public result. */
export function toThumbnailResult(response: ThumbnailResponse): ThumbnailResult {
  return {
    thumbnails: response.thumbnails.map(toThumbnail),
    sourceWidth: response.sourceWidth,
    sourceHeight: response.sourceHeight,
    sourceFormat: response.sourceFormat,
    orientation: response.orientation,
  };
}
