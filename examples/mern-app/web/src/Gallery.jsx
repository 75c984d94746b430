import { decode } from 'blurhash';
import { useEffect, useMemo, useState } from 'react';

import { api } from './api.js';

// Paints a BlurHash into a small canvas and returns it as a data URL.
function blurhashUrl(hash) {
  if (!hash) return undefined;
  const canvas = document.createElement('canvas');
  canvas.width = 32;
  canvas.height = 20;
  const context = canvas.getContext('2d');
  const image = context.createImageData(32, 20);
  image.data.set(decode(hash, 32, 20));
  context.putImageData(image, 0, 0);
  return canvas.toDataURL();
}

function Photo({ photo }) {
  const [loaded, setLoaded] = useState(false);
  const placeholder = useMemo(() => blurhashUrl(photo.blurhash), [photo.blurhash]);
  const webp = photo.renditions.filter((r) => r.format === 'webp');
  const jpeg = photo.renditions.filter((r) => r.format === 'jpeg');
  const srcSet = (list) => list.map((r) => `${r.url} ${r.width}w`).join(', ');
  return (
    <figure className="photo" data-testid="photo" data-photo-id={photo.id} style={{ aspectRatio: `${photo.width} / ${photo.height}` }}>
      <img className="placeholder" src={placeholder} alt="" aria-hidden="true" data-testid="blurhash" style={{ opacity: loaded ? 0 : 1 }} />
      <picture>
        <source type="image/webp" srcSet={srcSet(webp)} sizes="(max-width: 700px) 100vw, 320px" />
        <img src={jpeg[0]?.url} srcSet={srcSet(jpeg)} sizes="(max-width: 700px) 100vw, 320px" alt={photo.filename} onLoad={() => setLoaded(true)} data-testid="thumbnail" />
      </picture>
      <figcaption>
        {photo.filename} by {photo.ownerName}, {photo.width}x{photo.height}
        <span className="renditions" data-testid="renditions">
          {photo.renditions.map((r) => `${r.format} ${r.width}`).join(' · ')}
        </span>
        {photo.nearDuplicates?.length > 0 && (
          <span className="warning" data-testid="duplicate-warning">
            Looks like {photo.nearDuplicates[0].filename} ({photo.nearDuplicates[0].distance} bits apart)
          </span>
        )}
      </figcaption>
    </figure>
  );
}

export function Gallery({ socket }) {
  const [photos, setPhotos] = useState([]);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api('/photos').then(({ photos: list }) => setPhotos(list)).catch((error) => setMessage(error.message));
  }, []);

  useEffect(() => {
    if (!socket) return undefined;
    // Events may arrive out of order (a job can finish before photo:new is sent), so
    // the copy updated last wins.
    const upsert = (photo) => setPhotos((old) => {
      const known = old.find((p) => p.id === photo.id);
      if (known && known.updatedAt > photo.updatedAt) return old;
      return [photo, ...old.filter((p) => p.id !== photo.id)].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    });
    socket.on('photo:new', upsert);
    socket.on('photo:updated', upsert);
    return () => {
      socket.off('photo:new', upsert);
      socket.off('photo:updated', upsert);
    };
  }, [socket]);

  async function upload(event) {
    event.preventDefault();
    const file = event.target.elements.photo.files[0];
    if (!file) return;
    const form = new FormData();
    form.append('photo', file);
    setBusy(true);
    setMessage(`Uploading ${file.name}...`);
    try {
      const { photo } = await api('/photos', { method: 'POST', form });
      setPhotos((old) => (old.some((p) => p.id === photo.id && p.updatedAt > photo.updatedAt) ? old : [photo, ...old.filter((p) => p.id !== photo.id)]));
      setMessage(photo.nearDuplicates.length > 0
        ? `Uploaded ${photo.filename}; it looks like ${photo.nearDuplicates[0].filename} (perceptual hash ${photo.nearDuplicates[0].distance} bits apart).`
        : `Uploaded ${photo.filename}; larger renditions are being made in the background.`);
      event.target.reset();
    } catch (error) {
      setMessage(error.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <form className="upload" onSubmit={upload}>
        <input type="file" name="photo" accept="image/*" data-testid="photo-input" />
        <button type="submit" disabled={busy}>Upload</button>
        <span className="message" data-testid="upload-message">{message}</span>
      </form>
      <div className="grid">
        {photos.map((photo) => <Photo key={photo.id} photo={photo} />)}
      </div>
    </section>
  );
}
