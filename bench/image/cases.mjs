// The image benchmark cases, each with a heavylift operation and, where one exists, the same
// work done with sharp in a Node process. Both sides use the same photo, sizes and encoder
// settings: JPEG quality 80 with 4:2:0 chroma, WebP quality 80 at effort 4, metadata stripped.
import sharp from 'sharp';

/** Folder of Debian's mate-backgrounds package; the path cases use it as the daemon's blob root. */
export const PHOTO_ROOT = '/usr/share/backgrounds/mate';

/** Real photos from Debian's mate-backgrounds package. */
export const PHOTOS = {
  // 1920x1200 JPEG.
  photo1920: '/usr/share/backgrounds/mate/nature/Blinds.jpg',
  // 5640x3172 JPEG, 16 MB.
  photo5640: '/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg',
};

export const WIDTHS = [320, 640, 960, 1280];
export const QUALITY = 80;

const FORMATS = ['webp', 'jpeg'];

function heavyliftOutput(format, width) {
  return format === 'webp'
    ? { format: 'webp', quality: QUALITY, effort: 4, resize: { width } }
    : { format: 'jpeg', quality: QUALITY, chromaSubsampling: '4:2:0', resize: { width } };
}

function sharpEncode(pipeline, format) {
  return format === 'webp' ? pipeline.webp({ quality: QUALITY, effort: 4 }) : pipeline.jpeg({ quality: QUALITY, chromaSubsampling: '4:2:0' });
}

function expectCount(outputs, count, name) {
  if (outputs.length !== count || outputs.some((output) => output.length === 0 && output.data?.length === 0)) {
    throw new Error(`${name}: expected ${count} outputs, got ${outputs.length}`);
  }
}

/**
 * The cases by name. `heavylift(client, input)` and `sharp(input)` each run one operation and
 * resolve when its outputs are in memory; `sharp` is absent where the case compares two
 * heavylift call patterns. Cases with `byPath` pass a file path instead of bytes, and the
 * daemon runs with PHOTO_ROOT as its blob root.
 */
export const CASES = {
  'a-8-outputs': {
    title: '(a) 1920 px photo -> 4 widths x WebP + JPEG',
    photo: 'photo1920',
    async heavylift(client, input) {
      const outputs = FORMATS.flatMap((format) => WIDTHS.map((width) => heavyliftOutput(format, width)));
      const result = await client.image.transform({ input, outputs });
      expectCount(result.outputs, 8, 'heavylift');
    },
    async sharp(input) {
      // The usual sharp idiom for many renditions: one input, a clone per output.
      const base = sharp(input);
      const outputs = await Promise.all(FORMATS.flatMap((format) => WIDTHS.map((width) => sharpEncode(base.clone().resize(width), format).toBuffer())));
      expectCount(outputs, 8, 'sharp');
    },
  },
  'b-320-jpeg': {
    title: '(b) 5640x3172 photo -> 320 px JPEG',
    photo: 'photo5640',
    async heavylift(client, input) {
      const result = await client.image.transform({ input, outputs: [heavyliftOutput('jpeg', 320)] });
      expectCount(result.outputs, 1, 'heavylift');
    },
    async sharp(input) {
      const output = await sharpEncode(sharp(input).resize(320), 'jpeg').toBuffer();
      expectCount([output], 1, 'sharp');
    },
  },
  'c-metadata': {
    title: '(c) metadata of the 5640x3172 photo',
    photo: 'photo5640',
    async heavylift(client, input) {
      const metadata = await client.image.metadata({ input });
      if (metadata.width !== 5640) throw new Error(`heavylift: width ${metadata.width}`);
    },
    async sharp(input) {
      const metadata = await sharp(input).metadata();
      if (metadata.width !== 5640) throw new Error(`sharp: width ${metadata.width}`);
    },
  },
  'c-metadata-path': {
    title: '(c) metadata of the 5640x3172 photo, read from a file path',
    photo: 'photo5640',
    byPath: true,
    async heavylift(client) {
      const metadata = await client.image.metadata({ input: { path: PHOTOS.photo5640 } });
      if (metadata.width !== 5640) throw new Error(`heavylift: width ${metadata.width}`);
    },
    async sharp() {
      const metadata = await sharp(PHOTOS.photo5640).metadata();
      if (metadata.width !== 5640) throw new Error(`sharp: width ${metadata.width}`);
    },
  },
  'd-one-call': {
    title: '(d) the 8 outputs of (a): one heavylift call',
    photo: 'photo1920',
    async heavylift(client, input) {
      await CASES['a-8-outputs'].heavylift(client, input);
    },
  },
  'd-eight-calls': {
    title: '(d) the 8 outputs of (a): 8 heavylift calls',
    photo: 'photo1920',
    async heavylift(client, input) {
      const results = await Promise.all(
        FORMATS.flatMap((format) => WIDTHS.map((width) => client.image.transform({ input, outputs: [heavyliftOutput(format, width)] }))),
      );
      expectCount(results, 8, 'heavylift');
    },
  },
};
