// Options, validation and results of `client.image.transform`, `client.image.metadata` and
// `client.image.analyze`. Every option is checked before sending; an error names the option
// by its path (for example `operations[2].resize.fit`), the expected value and the received one.
import { status } from '@grpc/grpc-js';

import { UnimplementedError } from './errors';
import {
  type AnalyzeRequest,
  type AnalyzeResponse,
  type Color,
  CorruptInputPolicy,
  type EncodedImage,
  ExtendMode,
  Fit,
  Gravity,
  type ImageMetadata,
  type MetadataRequest,
  type Operation,
  type Output,
  OutputFormat,
  type Resize,
  type TransformRequest,
  type TransformResponse,
} from './gen/heavylift/v1/image';
import { buildBlobRef, type ImageInput } from './image';
import { checkBoolean, checkIntegerInRange, checkKnownKeys, checkOneOf, checkOptionsObject, invalidParameter } from './validate';

/** Output formats of `client.image.transform`. */
export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif'] as const;
/** Name of an output format. */
export type OutputFormatName = (typeof OUTPUT_FORMATS)[number];

/** Fit modes of a resize, with the same names and meanings as sharp's `fit`. */
export const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
/** Name of a fit mode. */
export type FitName = (typeof FITS)[number];

/** Compass positions, plus the smart-crop strategies `'attention'` and `'entropy'` (cover and smartCrop only). */
export const GRAVITIES = [
  'centre',
  'north',
  'northeast',
  'east',
  'southeast',
  'south',
  'southwest',
  'west',
  'northwest',
  'attention',
  'entropy',
] as const;
/** Name of a gravity or smart-crop strategy. */
export type GravityName = (typeof GRAVITIES)[number];

/**
 * A colour: `'#rgb'`, `'#rrggbb'`, `'#rrggbbaa'`, or `{ r, g, b, alpha? }` with channels 0..255
 * and alpha 0..1 (default 1).
 */
export type ColorInput = string | { r: number; g: number; b: number; alpha?: number };

/** Resizes to a box. Give `width`, `height` or both; a missing side follows the aspect ratio. */
export interface ResizeOptions {
  /** Box width in pixels. */
  width?: number;
  /** Box height in pixels. */
  height?: number;
  /** Default: `'cover'`. */
  fit?: FitName;
  /** Crop position for cover and placement for contain. Default: `'centre'`. */
  position?: GravityName;
  /** Padding colour for `contain`. Default: transparent black with alpha, black without. */
  background?: ColorInput;
  /** Leaves images smaller than the box as they are. Default: `false`. */
  withoutEnlargement?: boolean;
}

/** One operation: an object with exactly one of these keys. Operations run in array order. */
export type OperationOptions =
  | { resize: ResizeOptions }
  | { smartCrop: { width: number; height: number; strategy?: 'attention' | 'entropy' } }
  | { extract: { left: number; top: number; width: number; height: number } }
  | { rotate: { angle: number; background?: ColorInput } }
  | { flip: true }
  | { flop: true }
  | { blur: { sigma: number } }
  | { sharpen: { sigma?: number; flat?: number; jagged?: number } }
  | { modulate: { brightness?: number; saturation?: number; hue?: number } }
  | { grayscale: true }
  | { tint: ColorInput }
  | {
      extend: {
        top?: number;
        right?: number;
        bottom?: number;
        left?: number;
        mode?: 'background' | 'copy' | 'repeat' | 'mirror';
        background?: ColorInput;
      };
    }
  | { trim: { background?: ColorInput; threshold?: number } | true }
  | {
      composite: {
        overlay: ImageInput;
        gravity?: GravityName;
        left?: number;
        top?: number;
        opacity?: number;
        tile?: boolean;
      };
    };

interface OutputCommon {
  /** An extra resize for this output only, after the operations. */
  resize?: ResizeOptions;
  /** Keeps EXIF, XMP and the ICC profile. Default: `false` (stripped). */
  keepMetadata?: boolean;
}

/** One encoded output, chosen by `format`, with that format's options. */
export type OutputOptions =
  | (OutputCommon & {
      format: 'jpeg';
      /** 1..100. Default: 80. */
      quality?: number;
      /** Default: `false`. */
      progressive?: boolean;
      /** Default: `'4:2:0'`. */
      chromaSubsampling?: '4:2:0' | '4:4:4';
      /** Colour transparent pixels are flattened onto. Default: white. */
      flatten?: ColorInput;
    })
  | (OutputCommon & {
      format: 'png';
      /** zlib level 0..9. Default: 6. */
      compression?: number;
      /** Quantises to a palette. Default: `false`. */
      palette?: boolean;
      /** Palette size 2..256. Default: 256. */
      colors?: number;
    })
  | (OutputCommon & {
      format: 'webp';
      /** 1..100. Default: 80. */
      quality?: number;
      /** Default: `false`. */
      lossless?: boolean;
      /** CPU effort 0..6. Default: 4. */
      effort?: number;
    })
  | (OutputCommon & {
      format: 'avif';
      /** 1..100. Default: 50. */
      quality?: number;
      /** Default: `false`. */
      lossless?: boolean;
      /** CPU effort 0..9. Default: 4. */
      effort?: number;
    })
  | (OutputCommon & {
      format: 'gif';
      /** CPU effort 1..10. Default: 7. */
      effort?: number;
    });

/** Parameters of `client.image.transform`. */
export interface TransformOptions {
  /** The source image (JPEG, PNG, WebP, AVIF, GIF, TIFF or HEIF, sniffed from its bytes). Required. */
  input: ImageInput;
  /** Applied in order. Default: none. */
  operations?: readonly OperationOptions[];
  /** At least one. Required. */
  outputs: readonly OutputOptions[];
  /** Orients the image upright from EXIF first. Default: `true`. */
  autoOrient?: boolean;
  /** Keeps every frame of an animated GIF or WebP for GIF and WebP outputs. Default: `true`. */
  animated?: boolean;
  /** `'fail'` rejects a truncated or damaged input; `'warn'` decodes what it can and returns a warning. Default: `'fail'`. */
  corruptInput?: 'fail' | 'warn';
  /** Converts to sRGB through the embedded ICC profile. Default: `true`. */
  toSrgb?: boolean;
}

/** One encoded output. */
export interface TransformedImage {
  width: number;
  height: number;
  format: OutputFormatName;
  /** Number of frames: 1 unless the output is animated. */
  pages: number;
  data: Buffer;
}

/** Header fields of an image. */
export interface ImageMetadataResult {
  /** `'jpeg'`, `'png'`, `'webp'`, `'gif'`, `'tiff'` or `'heif'` (HEIC and AVIF). */
  format: string;
  /** Width as stored, before auto-orientation, in pixels. */
  width: number;
  /** Height of one page as stored, in pixels. */
  height: number;
  /** EXIF orientation 1..8 (1 when absent). */
  orientation: number;
  hasAlpha: boolean;
  /** libvips interpretation, for example `'srgb'`, `'b-w'`, `'cmyk'`, `'rgb16'`. */
  colorSpace: string;
  channels: number;
  bitsPerSample: number;
  pages: number;
  /** Frame delays of an animation in milliseconds. */
  delaysMs: number[];
  /** Pixels per inch, 0 when unknown. */
  density: number;
  hasIccProfile: boolean;
  hasExif: boolean;
  hasXmp: boolean;
  progressive: boolean;
  chromaSubsampling: string;
  /** EXIF fields by libvips name, for example `'ifd0-Make'`. */
  exif: Record<string, string>;
}

/** Result of `client.image.transform`. */
export interface TransformResult {
  /** One per requested output, in request order. */
  outputs: TransformedImage[];
  /** The source image. */
  source: ImageMetadataResult;
  /** Decoder warnings, kept when `corruptInput` is `'warn'`. */
  warnings: string[];
}

/** Parameters of `client.image.metadata`. */
export interface MetadataOptions {
  /** The image whose header is read. Required. */
  input: ImageInput;
}

/** Parameters of `client.image.analyze`. */
export interface AnalyzeOptions {
  input: ImageInput;
  /** BlurHash components along x and y, each 1..9. Default: `{ x: 4, y: 3 }`. */
  blurhashComponents?: { x: number; y: number };
  /** Default: `true`. */
  autoOrient?: boolean;
}

/** Result of `client.image.analyze`. */
export interface AnalyzeResult {
  /** The most frequent colour. */
  dominant: { r: number; g: number; b: number };
  blurhash: string;
  /** The ThumbHash bytes (base64 them for a data attribute). */
  thumbhash: Buffer;
  /** 64-bit perceptual hash as 16 hex digits; compare with {@link hammingDistance}. */
  phash: string;
  metadata: ImageMetadataResult;
}

const FORMAT_TO_PROTO: Record<OutputFormatName, OutputFormat> = {
  jpeg: OutputFormat.OUTPUT_FORMAT_JPEG,
  png: OutputFormat.OUTPUT_FORMAT_PNG,
  webp: OutputFormat.OUTPUT_FORMAT_WEBP,
  avif: OutputFormat.OUTPUT_FORMAT_AVIF,
  gif: OutputFormat.OUTPUT_FORMAT_GIF,
};

const FIT_TO_PROTO: Record<FitName, Fit> = {
  cover: Fit.FIT_COVER,
  contain: Fit.FIT_CONTAIN,
  fill: Fit.FIT_FILL,
  inside: Fit.FIT_INSIDE,
  outside: Fit.FIT_OUTSIDE,
};

const GRAVITY_TO_PROTO: Record<GravityName, Gravity> = {
  centre: Gravity.GRAVITY_CENTRE,
  north: Gravity.GRAVITY_NORTH,
  northeast: Gravity.GRAVITY_NORTH_EAST,
  east: Gravity.GRAVITY_EAST,
  southeast: Gravity.GRAVITY_SOUTH_EAST,
  south: Gravity.GRAVITY_SOUTH,
  southwest: Gravity.GRAVITY_SOUTH_WEST,
  west: Gravity.GRAVITY_WEST,
  northwest: Gravity.GRAVITY_NORTH_WEST,
  attention: Gravity.GRAVITY_ATTENTION,
  entropy: Gravity.GRAVITY_ENTROPY,
};

const EXTEND_MODES = ['background', 'copy', 'repeat', 'mirror'] as const;
const EXTEND_TO_PROTO: Record<(typeof EXTEND_MODES)[number], ExtendMode> = {
  background: ExtendMode.EXTEND_MODE_BACKGROUND,
  copy: ExtendMode.EXTEND_MODE_COPY,
  repeat: ExtendMode.EXTEND_MODE_REPEAT,
  mirror: ExtendMode.EXTEND_MODE_MIRROR,
};

/** Options each output format accepts besides `format`, `resize` and `keepMetadata`. */
const FORMAT_OPTIONS: Record<OutputFormatName, readonly string[]> = {
  jpeg: ['quality', 'progressive', 'chromaSubsampling', 'flatten'],
  png: ['compression', 'palette', 'colors'],
  webp: ['quality', 'lossless', 'effort'],
  avif: ['quality', 'lossless', 'effort'],
  gif: ['effort'],
};

const OPERATION_NAMES = [
  'resize',
  'smartCrop',
  'extract',
  'rotate',
  'flip',
  'flop',
  'blur',
  'sharpen',
  'modulate',
  'grayscale',
  'tint',
  'extend',
  'trim',
  'composite',
] as const;

// The daemon configures the real bound (`image.max_width`); this only keeps values inside uint32.
const MAX_PIXELS = 0x7fff_ffff;

type Checked = Record<string, unknown>;

function checkObject(value: unknown, field: string): Checked {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidParameter(field, 'object', value);
  }
  return value as Checked;
}

function checkNumberInRange(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidParameter(field, `number between ${min} and ${max}`, value);
  }
  return value;
}

function optionalInteger(value: unknown, field: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : checkIntegerInRange(value, field, min, max);
}

function optionalNumber(value: unknown, field: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : checkNumberInRange(value, field, min, max);
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  return value === undefined ? undefined : checkBoolean(value, field);
}

const HEX_COLOR = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

/** Validates a colour option and converts it to the proto Color (alpha 0..255). */
export function buildColor(value: unknown, field: string): Color {
  if (typeof value === 'string') {
    const match = HEX_COLOR.exec(value);
    if (!match) {
      throw invalidParameter(field, "'#rgb', '#rrggbb', '#rrggbbaa' or { r, g, b, alpha? }", value);
    }
    let hex = match[1];
    if (hex.length === 3) {
      hex = [...hex].map((digit) => digit + digit).join('');
    }
    const channel = (index: number) => Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
    return { r: channel(0), g: channel(1), b: channel(2), alpha: hex.length === 8 ? channel(3) : undefined };
  }
  const object = checkObject(value, field);
  checkKnownKeys(object, field, ['r', 'g', 'b', 'alpha']);
  const alpha = optionalNumber(object.alpha, `${field}.alpha`, 0, 1);
  return {
    r: checkIntegerInRange(object.r, `${field}.r`, 0, 255),
    g: checkIntegerInRange(object.g, `${field}.g`, 0, 255),
    b: checkIntegerInRange(object.b, `${field}.b`, 0, 255),
    alpha: alpha === undefined ? undefined : Math.round(alpha * 255),
  };
}

function optionalColor(value: unknown, field: string): Color | undefined {
  return value === undefined ? undefined : buildColor(value, field);
}

function gravity(value: unknown, field: string, allowSmart: boolean): Gravity {
  if (value === undefined) {
    return Gravity.GRAVITY_UNSPECIFIED;
  }
  const names = allowSmart ? GRAVITIES : GRAVITIES.filter((name) => name !== 'attention' && name !== 'entropy');
  return GRAVITY_TO_PROTO[checkOneOf(value, field, names)];
}

function buildResize(value: unknown, field: string): Resize {
  const object = checkObject(value, field);
  checkKnownKeys(object, field, ['width', 'height', 'fit', 'position', 'background', 'withoutEnlargement']);
  const width = optionalInteger(object.width, `${field}.width`, 1, MAX_PIXELS);
  const height = optionalInteger(object.height, `${field}.height`, 1, MAX_PIXELS);
  if (width === undefined && height === undefined) {
    throw invalidParameter(`${field}.width`, 'a width, a height or both', value);
  }
  const fit = object.fit === undefined ? Fit.FIT_UNSPECIFIED : FIT_TO_PROTO[checkOneOf(object.fit, `${field}.fit`, FITS)];
  const position = gravity(object.position, `${field}.position`, fit === Fit.FIT_UNSPECIFIED || fit === Fit.FIT_COVER);
  return {
    width: width ?? 0,
    height: height ?? 0,
    fit,
    position,
    background: optionalColor(object.background, `${field}.background`),
    withoutEnlargement: optionalBoolean(object.withoutEnlargement, `${field}.withoutEnlargement`) ?? false,
  };
}

function checkTrue(value: unknown, field: string): void {
  if (value !== true) {
    throw invalidParameter(field, 'true', value);
  }
}

function buildOperationBody(name: (typeof OPERATION_NAMES)[number], value: unknown, field: string): Operation['op'] {
  switch (name) {
    case 'resize':
      return { $case: 'resize', resize: buildResize(value, field) };
    case 'smartCrop': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['width', 'height', 'strategy']);
      return {
        $case: 'smartCrop',
        smartCrop: {
          width: checkIntegerInRange(object.width, `${field}.width`, 1, MAX_PIXELS),
          height: checkIntegerInRange(object.height, `${field}.height`, 1, MAX_PIXELS),
          strategy: object.strategy === undefined ? Gravity.GRAVITY_UNSPECIFIED : GRAVITY_TO_PROTO[checkOneOf(object.strategy, `${field}.strategy`, ['attention', 'entropy'] as const)],
        },
      };
    }
    case 'extract': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['left', 'top', 'width', 'height']);
      return {
        $case: 'extract',
        extract: {
          left: checkIntegerInRange(object.left, `${field}.left`, 0, MAX_PIXELS),
          top: checkIntegerInRange(object.top, `${field}.top`, 0, MAX_PIXELS),
          width: checkIntegerInRange(object.width, `${field}.width`, 1, MAX_PIXELS),
          height: checkIntegerInRange(object.height, `${field}.height`, 1, MAX_PIXELS),
        },
      };
    }
    case 'rotate': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['angle', 'background']);
      return {
        $case: 'rotate',
        rotate: { angle: checkNumberInRange(object.angle, `${field}.angle`, -3600, 3600), background: optionalColor(object.background, `${field}.background`) },
      };
    }
    case 'flip':
      checkTrue(value, field);
      return { $case: 'flip', flip: true };
    case 'flop':
      checkTrue(value, field);
      return { $case: 'flop', flop: true };
    case 'grayscale':
      checkTrue(value, field);
      return { $case: 'grayscale', grayscale: {} };
    case 'blur': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['sigma']);
      return { $case: 'blur', blur: { sigma: checkNumberInRange(object.sigma, `${field}.sigma`, 0.3, 1000) } };
    }
    case 'sharpen': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['sigma', 'flat', 'jagged']);
      return {
        $case: 'sharpen',
        sharpen: {
          sigma: optionalNumber(object.sigma, `${field}.sigma`, 0.000001, 10) ?? 0,
          flat: optionalNumber(object.flat, `${field}.flat`, 0, 1_000_000) ?? 0,
          jagged: optionalNumber(object.jagged, `${field}.jagged`, 0, 1_000_000) ?? 0,
        },
      };
    }
    case 'modulate': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['brightness', 'saturation', 'hue']);
      return {
        $case: 'modulate',
        modulate: {
          brightness: optionalNumber(object.brightness, `${field}.brightness`, 0, 100),
          saturation: optionalNumber(object.saturation, `${field}.saturation`, 0, 100),
          hue: optionalNumber(object.hue, `${field}.hue`, -3600, 3600) ?? 0,
        },
      };
    }
    case 'tint':
      return { $case: 'tint', tint: { color: buildColor(value, field) } };
    case 'extend': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['top', 'right', 'bottom', 'left', 'mode', 'background']);
      return {
        $case: 'extend',
        extend: {
          top: optionalInteger(object.top, `${field}.top`, 0, MAX_PIXELS) ?? 0,
          right: optionalInteger(object.right, `${field}.right`, 0, MAX_PIXELS) ?? 0,
          bottom: optionalInteger(object.bottom, `${field}.bottom`, 0, MAX_PIXELS) ?? 0,
          left: optionalInteger(object.left, `${field}.left`, 0, MAX_PIXELS) ?? 0,
          mode: object.mode === undefined ? ExtendMode.EXTEND_MODE_UNSPECIFIED : EXTEND_TO_PROTO[checkOneOf(object.mode, `${field}.mode`, EXTEND_MODES)],
          background: optionalColor(object.background, `${field}.background`),
        },
      };
    }
    case 'trim': {
      if (value === true) {
        return { $case: 'trim', trim: { background: undefined, threshold: 0 } };
      }
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['background', 'threshold']);
      return {
        $case: 'trim',
        trim: { background: optionalColor(object.background, `${field}.background`), threshold: optionalNumber(object.threshold, `${field}.threshold`, 0, 255) ?? 0 },
      };
    }
    case 'composite': {
      const object = checkObject(value, field);
      checkKnownKeys(object, field, ['overlay', 'gravity', 'left', 'top', 'opacity', 'tile']);
      if ((object.left === undefined) !== (object.top === undefined)) {
        throw invalidParameter(object.left === undefined ? `${field}.left` : `${field}.top`, 'both left and top, or neither', object.left ?? object.top);
      }
      return {
        $case: 'composite',
        composite: {
          overlay: buildBlobRef(object.overlay, `${field}.overlay`),
          gravity: gravity(object.gravity, `${field}.gravity`, false),
          left: optionalInteger(object.left, `${field}.left`, -MAX_PIXELS, MAX_PIXELS),
          top: optionalInteger(object.top, `${field}.top`, -MAX_PIXELS, MAX_PIXELS),
          opacity: optionalNumber(object.opacity, `${field}.opacity`, 0, 1),
          tile: optionalBoolean(object.tile, `${field}.tile`) ?? false,
        },
      };
    }
  }
}

function buildOperation(value: unknown, field: string): Operation {
  const object = checkObject(value, field);
  const keys = Object.keys(object).filter((key) => object[key] !== undefined);
  if (keys.length !== 1) {
    throw invalidParameter(field, `an object with exactly one of ${OPERATION_NAMES.join(', ')}`, value);
  }
  const name = checkOneOf(keys[0], `${field} operation name`, OPERATION_NAMES);
  return { op: buildOperationBody(name, object[name], `${field}.${name}`) };
}

function buildOutput(value: unknown, field: string): Output {
  const object = checkObject(value, field);
  const format = checkOneOf(object.format, `${field}.format`, OUTPUT_FORMATS);
  checkKnownKeys(object, field, ['format', 'resize', 'keepMetadata', ...FORMAT_OPTIONS[format]]);
  const output: Output = {
    resize: object.resize === undefined ? undefined : buildResize(object.resize, `${field}.resize`),
    format: FORMAT_TO_PROTO[format],
    jpeg: undefined,
    png: undefined,
    webp: undefined,
    avif: undefined,
    gif: undefined,
    keepMetadata: optionalBoolean(object.keepMetadata, `${field}.keepMetadata`) ?? false,
    flattenBackground: undefined,
  };
  switch (format) {
    case 'jpeg': {
      const chroma = object.chromaSubsampling === undefined ? '' : checkOneOf(object.chromaSubsampling, `${field}.chromaSubsampling`, ['4:2:0', '4:4:4'] as const);
      output.jpeg = {
        quality: optionalInteger(object.quality, `${field}.quality`, 1, 100) ?? 0,
        progressive: optionalBoolean(object.progressive, `${field}.progressive`) ?? false,
        chromaSubsampling: chroma,
      };
      output.flattenBackground = optionalColor(object.flatten, `${field}.flatten`);
      break;
    }
    case 'png':
      output.png = {
        compression: optionalInteger(object.compression, `${field}.compression`, 0, 9),
        palette: optionalBoolean(object.palette, `${field}.palette`) ?? false,
        colors: optionalInteger(object.colors, `${field}.colors`, 2, 256) ?? 0,
      };
      break;
    case 'webp':
      output.webp = {
        quality: optionalInteger(object.quality, `${field}.quality`, 1, 100) ?? 0,
        lossless: optionalBoolean(object.lossless, `${field}.lossless`) ?? false,
        effort: optionalInteger(object.effort, `${field}.effort`, 0, 6),
      };
      break;
    case 'avif':
      output.avif = {
        quality: optionalInteger(object.quality, `${field}.quality`, 1, 100) ?? 0,
        lossless: optionalBoolean(object.lossless, `${field}.lossless`) ?? false,
        effort: optionalInteger(object.effort, `${field}.effort`, 0, 9),
      };
      break;
    case 'gif':
      output.gif = { effort: optionalInteger(object.effort, `${field}.effort`, 1, 10) };
      break;
  }
  return output;
}

function requiredInput(value: unknown): ReturnType<typeof buildBlobRef> {
  if (value === undefined) {
    throw invalidParameter('input', 'Buffer, Uint8Array, { data } or { path }', value);
  }
  return buildBlobRef(value);
}

/** Validates the transform options and builds the request message. */
export function buildTransformRequest(options: TransformOptions): TransformRequest {
  const checked = checkOptionsObject(options, 'options') as Checked;
  checkKnownKeys(checked, 'options', TRANSFORM_OPTION_NAMES);
  const input = requiredInput(checked.input);
  return { input, ...buildTransformPipeline(checked) };
}

/** Keys of {@link TransformOptions}. */
export const TRANSFORM_OPTION_NAMES = ['input', 'operations', 'outputs', 'autoOrient', 'animated', 'corruptInput', 'toSrgb'];

/** Validates every transform option except `input` and builds those request fields. */
export function buildTransformPipeline(checked: Record<string, unknown>): Omit<TransformRequest, 'input'> {
  const operations = checked.operations ?? [];
  if (!Array.isArray(operations)) {
    throw invalidParameter('operations', 'array of operations', operations);
  }
  const outputs = checked.outputs;
  if (!Array.isArray(outputs) || outputs.length === 0) {
    throw invalidParameter('outputs', 'non-empty array of outputs', outputs);
  }
  const corruptInput =
    checked.corruptInput === undefined
      ? CorruptInputPolicy.CORRUPT_INPUT_POLICY_UNSPECIFIED
      : checkOneOf(checked.corruptInput, 'corruptInput', ['fail', 'warn'] as const) === 'warn'
        ? CorruptInputPolicy.CORRUPT_INPUT_POLICY_WARN
        : CorruptInputPolicy.CORRUPT_INPUT_POLICY_FAIL;

  return {
    operations: operations.map((operation: unknown, index: number) => buildOperation(operation, `operations[${index}]`)),
    outputs: outputs.map((output: unknown, index: number) => buildOutput(output, `outputs[${index}]`)),
    autoOrient: optionalBoolean(checked.autoOrient, 'autoOrient'),
    animated: optionalBoolean(checked.animated, 'animated'),
    corruptInput,
    toSrgb: optionalBoolean(checked.toSrgb, 'toSrgb'),
  };
}

/** Validates the metadata options and builds the request message. */
export function buildMetadataRequest(options: MetadataOptions): MetadataRequest {
  const checked = checkOptionsObject(options, 'options') as Checked;
  checkKnownKeys(checked, 'options', ['input']);
  return { input: requiredInput(checked.input) };
}

/** Validates the analyze options and builds the request message. */
export function buildAnalyzeRequest(options: AnalyzeOptions): AnalyzeRequest {
  const checked = checkOptionsObject(options, 'options') as Checked;
  checkKnownKeys(checked, 'options', ['input', 'blurhashComponents', 'autoOrient']);
  const input = requiredInput(checked.input);
  let blurhashX = 0;
  let blurhashY = 0;
  if (checked.blurhashComponents !== undefined) {
    const components = checkObject(checked.blurhashComponents, 'blurhashComponents');
    checkKnownKeys(components, 'blurhashComponents', ['x', 'y']);
    blurhashX = checkIntegerInRange(components.x, 'blurhashComponents.x', 1, 9);
    blurhashY = checkIntegerInRange(components.y, 'blurhashComponents.y', 1, 9);
  }
  return { input, blurhashX, blurhashY, autoOrient: optionalBoolean(checked.autoOrient, 'autoOrient') };
}

/** Returns the name of an output format, or throws UnimplementedError for a format this SDK does not know. */
export function outputFormatName(format: OutputFormat): OutputFormatName {
  for (const [name, value] of Object.entries(FORMAT_TO_PROTO)) {
    if (value === format) {
      return name as OutputFormatName;
    }
  }
  // A newer daemon may encode a format that this SDK cannot name. Returning
  // the bytes under a wrong name would mislead the caller.
  throw new UnimplementedError(
    `The daemon returned an image in OutputFormat ${format}, which this SDK version does not know; upgrade the heavylift package`,
    { code: status.UNIMPLEMENTED },
  );
}

/** Converts a metadata message to the public result. */
export function toMetadataResult(message: ImageMetadata | undefined): ImageMetadataResult {
  const m = message ?? ({} as Partial<ImageMetadata>);
  return {
    format: m.format ?? '',
    width: m.width ?? 0,
    height: m.height ?? 0,
    orientation: m.orientation ?? 1,
    hasAlpha: m.hasAlpha ?? false,
    colorSpace: m.colorSpace ?? '',
    channels: m.channels ?? 0,
    bitsPerSample: m.bitsPerSample ?? 0,
    pages: m.pages ?? 1,
    delaysMs: m.delaysMs ?? [],
    density: m.density ?? 0,
    hasIccProfile: m.hasIccProfile ?? false,
    hasExif: m.hasExif ?? false,
    hasXmp: m.hasXmp ?? false,
    progressive: m.progressive ?? false,
    chromaSubsampling: m.chromaSubsampling ?? '',
    exif: { ...(m.exif ?? {}) },
  };
}

/** Converts an output message to the public result; `data` is taken from the message. */
export function toTransformedImage(message: EncodedImage): TransformedImage {
  return { width: message.width, height: message.height, format: outputFormatName(message.format), pages: message.pages, data: message.data };
}

/** Converts the transform response to the public result. */
export function toTransformResult(response: TransformResponse): TransformResult {
  return { outputs: response.outputs.map(toTransformedImage), source: toMetadataResult(response.source), warnings: response.warnings };
}

/** Converts the analyze response to the public result. */
export function toAnalyzeResult(response: AnalyzeResponse): AnalyzeResult {
  const dominant = response.dominant ?? { r: 0, g: 0, b: 0 };
  return {
    dominant: { r: dominant.r, g: dominant.g, b: dominant.b },
    blurhash: response.blurhash,
    thumbhash: response.thumbhash,
    phash: response.phash,
    metadata: toMetadataResult(response.metadata),
  };
}

/**
 * Returns the number of differing bits between two perceptual hashes from
 * {@link AnalyzeResult.phash}: under about 10 usually means the same picture.
 */
export function hammingDistance(a: string, b: string): number {
  for (const [value, field] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    if (typeof value !== 'string' || !/^[0-9a-f]{16}$/.test(value)) {
      throw invalidParameter(field, '16 lower-case hex digits', value);
    }
  }
  let bits = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let count = 0;
  while (bits > 0n) {
    count += Number(bits & 1n);
    bits >>= 1n;
  }
  return count;
}
