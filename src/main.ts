// `npm start`: validate the config before any side effect, start tracing when an OTLP endpoint is
// set (before the app's modules load, so the instrumentations can patch them), then serve.
import { ConfigError, loadConfig, type Config } from './platform/config.js';

let config: Config;
try {
  config = loadConfig(process.env, { serve: true });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

// Without an endpoint nothing of the SDK is loaded: the app's spans go to the API's no-op tracer.
const tracing = config.tracing ? await (await import('./telemetry.js')).startTracing(config.tracing, config.nodeId) : undefined;
const { serve } = await import('./serve.js');
serve(config, tracing);
