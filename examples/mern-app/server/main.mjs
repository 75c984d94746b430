// Starts the API from the environment (see README.md) and stops it on
// SIGINT or SIGTERM. Prints one line "api.listening url=..." when ready.
import { configFromEnv, createApp } from './app.mjs';

const config = configFromEnv();
const running = await createApp(config);
const url = await running.start();
console.log(`api.listening url=${url}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    process.exit(0);
  });
}
