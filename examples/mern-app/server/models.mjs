// Mongoose models of the app. Activity matches the model "Activity" in
// schema.json, which heavylift loads (--schema-file) to aggregate the
// collection; `heavylift schema check` compares the two.
import mongoose from 'mongoose';

const { Schema } = mongoose;

const userSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    passwordHash: { type: String, required: true },
  },
  { timestamps: true },
);

const renditionSchema = new Schema(
  {
    width: Number,
    height: Number,
    format: String,
    url: String,
    via: { type: String, enum: ['grpc', 'job'] },
  },
  { _id: false },
);

const photoSchema = new Schema(
  {
    owner: { type: Schema.Types.ObjectId, required: true },
    ownerName: { type: String, required: true },
    filename: String,
    bytes: Number,
    sha256: String,
    storedPath: String,
    width: Number,
    height: Number,
    blurhash: String,
    phash: String,
    dominant: String,
    renditions: [renditionSchema],
    nearDuplicates: [{ _id: false, photo: Schema.Types.ObjectId, filename: String, distance: Number }],
    // The latest rendition job of each format, keyed by format: FerretDB 1.24
    // does not implement the positional operator that an array would need.
    jobs: {
      webp: { id: String, state: String },
      jpeg: { id: String, state: String },
    },
  },
  { timestamps: true },
);

const activitySchema = new Schema(
  {
    user: { type: Schema.Types.ObjectId, required: true },
    userName: { type: String, required: true },
    type: { type: String, enum: ['signup', 'login', 'upload', 'csv'], required: true },
    bytes: Number,
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

/** Registers the models on `connection` and returns them. */
export function defineModels(connection) {
  return {
    User: connection.model('User', userSchema),
    Photo: connection.model('Photo', photoSchema),
    Activity: connection.model('Activity', activitySchema),
  };
}
