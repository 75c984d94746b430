import {
  type ChannelCredentials,
  type ChannelOptions,
  type Interceptor,
  InterceptingCall,
  credentials as grpcCredentials,
} from '@grpc/grpc-js';

import tls from 'node:tls';

import { TRACEPARENT_METADATA_KEY, checkTraceparent } from './trace';
import { checkKnownKeys, checkOptionsObject, invalidParameter, optionNames } from './validate';

/** TLS settings of {@link ClientOptions}. PEM contents, not file paths. */
export interface TlsOptions {
  /** CA certificates (PEM) that the daemon's certificate must chain to. Default: Node's built-in root CAs. */
  ca?: Buffer | string;
  /** Client certificate chain (PEM), for a daemon that requires mutual TLS. Needs `key`. */
  cert?: Buffer | string;
  /** Private key (PEM) of `cert`. */
  key?: Buffer | string;
  /**
   * Name the daemon's certificate is checked against when it differs from the host in
   * `address`, for example when connecting by IP address. Default: the host in `address`.
   */
  serverName?: string;
}

/** Retries of calls that the daemon rejected as overloaded (RESOURCE_EXHAUSTED with a retry hint). */
export interface OverloadRetryOptions {
  /** Retries after the first attempt. 0 turns them off. Default: `2`. */
  maxRetries?: number;
  /** Maximum wait before one retry, in milliseconds, whatever the daemon's hint. Default: `2000`. */
  maxDelayMs?: number;
}

const TLS_OPTION_NAMES = optionNames<TlsOptions>({ ca: true, cert: true, key: true, serverName: true });
const OVERLOAD_RETRY_OPTION_NAMES = optionNames<OverloadRetryOptions>({ maxRetries: true, maxDelayMs: true });

export interface ResolvedOverloadRetry {
  maxRetries: number;
  maxDelayMs: number;
}

/** Services whose calls are pure functions of their request, so a retry on another instance is safe. */
export const IDEMPOTENT_SERVICES = [
  'heavylift.v1.ImageService',
  'heavylift.v1.CryptoService',
  'heavylift.v1.TestingService',
  'grpc.health.v1.Health',
];

function toBuffer(value: unknown, field: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string' && value.length > 0) return Buffer.from(value);
  throw invalidParameter(field, 'PEM contents as a non-empty string or Buffer', value);
}

/**
 * Turns `address` (one `host:port`, a list of them, or any grpc-js target such as
 * `dns:name:port`) into a grpc-js target. A list becomes an `ipv4:` or `ipv6:` target whose
 * addresses round_robin balances over.
 */
export function targetOf(address: unknown): string {
  if (typeof address === 'string') {
    if (address.length === 0) throw invalidParameter('address', 'non-empty string or array of host:port', address);
    return address;
  }
  if (!Array.isArray(address) || address.length === 0) {
    throw invalidParameter('address', 'non-empty string or array of host:port', address);
  }
  const entries = address.map((entry, index) => {
    if (typeof entry !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(entry)) {
      throw invalidParameter(`address[${index}]`, 'numeric host:port such as 10.0.0.5:50051 or [fd00::5]:50051', entry);
    }
    return entry;
  });
  const ipv6 = entries.filter((entry) => entry.startsWith('['));
  if (ipv6.length > 0 && ipv6.length < entries.length) {
    throw invalidParameter('address', 'IPv4 addresses only or IPv6 addresses only (grpc-js cannot mix them in one list)', address);
  }
  return `${ipv6.length > 0 ? 'ipv6' : 'ipv4'}:${entries.join(',')}`;
}

/** True when `target` may resolve to several daemons: a list of addresses or a DNS name. */
export function isMultiInstance(target: string): boolean {
  return target.includes(',') || target.startsWith('dns:');
}

/**
 * Builds the service config for a target with several daemons: round_robin over every address the
 * target resolves to, and transparent retries with backoff of UNAVAILABLE for the
 * idempotent services, so a daemon that is draining or was killed is skipped. A single
 * daemon gets grpc-js's defaults (pick_first, no retries), since a retry would meet the
 * same daemon: its callers see UNAVAILABLE and decide.
 */
export function serviceConfig(target: string): string | undefined {
  if (!isMultiInstance(target)) return undefined;
  return JSON.stringify({
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig: [
      {
        name: IDEMPOTENT_SERVICES.map((service) => ({ service })),
        retryPolicy: {
          maxAttempts: 4,
          initialBackoff: '0.05s',
          maxBackoff: '1s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  });
}

/** Per-channel settings that calls read, set once by createClient. */
export interface ChannelSettings {
  overloadRetry: ResolvedOverloadRetry;
  /**
   * Opens one TLS connection to the daemon with the client's TLS settings and resolves with
   * the TLS error it meets, or undefined. Set when the client uses TLS.
   */
  probeTls?: () => Promise<string | undefined>;
}

// How long a TLS probe waits for the daemon to reject the client certificate
// after the handshake: with TLS 1.3 that alert follows the client's Finished.
const TLS_PROBE_ALERT_WAIT_MS = 300;
const TLS_PROBE_TIMEOUT_MS = 3_000;

/** Returns the host and port of the first address of `target`, or undefined for name-based targets. */
function firstAddress(target: string): { host: string; port: number } | undefined {
  const first = target.replace(/^ipv[46]:/, '').split(',')[0]!;
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(first);
  if (match === null || first.startsWith('dns:') || first.startsWith('unix:')) return undefined;
  return { host: match[1]!, port: Number(match[2]) };
}

/**
 * Returns a probe that finds out why TLS connections to `target` fail, for turning grpc-js's
 * generic "No connection established" into a clear credential error.
 */
export function tlsProbe(target: string, options: TlsOptions): (() => Promise<string | undefined>) | undefined {
  const address = firstAddress(target);
  if (address === undefined) return undefined;
  return () =>
    new Promise((resolve) => {
      const socket = tls.connect({
        host: address.host,
        port: address.port,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        servername: options.serverName ?? (/^[0-9.:]+$/.test(address.host) ? undefined : address.host),
        ALPNProtocols: ['h2'],
      });
      const finish = (problem: string | undefined): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(problem);
      };
      const timer = setTimeout(() => finish(undefined), TLS_PROBE_TIMEOUT_MS);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        const tlsCode = error.code !== undefined && /^(ERR_SSL|ERR_TLS|CERT_|DEPTH_|SELF_SIGNED|UNABLE_TO|HOSTNAME|ERR_X509)/.test(error.code);
        finish(tlsCode ? `${error.message} (${error.code})` : undefined);
      });
      socket.once('secureConnect', () => {
        // A daemon that accepts the connection sends its HTTP/2 SETTINGS at
        // once. One that requires mutual TLS and rejects the client
        // certificate (or its absence) closes the connection instead, which
        // TLS 1.3 reports only after the handshake.
        socket.once('data', () => finish(undefined));
        socket.once('end', () =>
          finish(
            'the daemon closed the connection right after the handshake, so it requires mutual TLS and rejected ' +
              (options.cert === undefined ? 'the missing client certificate' : 'the client certificate'),
          ),
        );
        setTimeout(() => finish(undefined), TLS_PROBE_ALERT_WAIT_MS);
      });
    });
}

/** Builds channel credentials and options from the `tls` option. */
export function tlsChannel(tls: TlsOptions | undefined): {
  credentials: ChannelCredentials;
  options: ChannelOptions;
  checked: TlsOptions;
} {
  const checked = checkOptionsObject(tls, 'tls');
  checkKnownKeys(checked, 'tls', TLS_OPTION_NAMES);
  const ca = checked.ca === undefined ? null : toBuffer(checked.ca, 'tls.ca');
  const cert = checked.cert === undefined ? null : toBuffer(checked.cert, 'tls.cert');
  const key = checked.key === undefined ? null : toBuffer(checked.key, 'tls.key');
  if ((cert === null) !== (key === null)) {
    throw invalidParameter(cert === null ? 'tls.cert' : 'tls.key', 'tls.cert and tls.key given together', cert ?? key);
  }
  const options: ChannelOptions = {};
  if (checked.serverName !== undefined) {
    if (typeof checked.serverName !== 'string' || checked.serverName.length === 0) {
      throw invalidParameter('tls.serverName', 'non-empty string', checked.serverName);
    }
    options['grpc.ssl_target_name_override'] = checked.serverName;
    options['grpc.default_authority'] = checked.serverName;
  }
  return {
    credentials: grpcCredentials.createSsl(ca, key, cert),
    options,
    checked: { ca: ca ?? undefined, cert: cert ?? undefined, key: key ?? undefined, serverName: checked.serverName },
  };
}

/** Checks the `token` option: a string, or a function returning one per call (for rotation). */
export function checkToken(token: unknown): (() => string) | undefined {
  if (token === undefined) return undefined;
  if (typeof token === 'string' && token.length > 0) return () => token;
  if (typeof token === 'function') {
    return () => {
      const value: unknown = token();
      if (typeof value !== 'string' || value.length === 0) {
        throw invalidParameter('token', 'function returning a non-empty string', value);
      }
      return value;
    };
  }
  throw invalidParameter('token', 'non-empty string or function returning one', token);
}

/** Checks the `traceparent` option: a function returning the current traceparent or undefined. */
export function checkTraceparentProvider(provider: unknown): (() => string | undefined) | undefined {
  if (provider === undefined) return undefined;
  if (typeof provider !== 'function') throw invalidParameter('traceparent', 'function returning a traceparent or undefined', provider);
  return () => {
    const value: unknown = provider();
    return value === undefined ? undefined : checkTraceparent(value, 'traceparent');
  };
}

export function checkOverloadRetry(value: OverloadRetryOptions | undefined): ResolvedOverloadRetry {
  const checked = checkOptionsObject(value, 'overloadRetry');
  checkKnownKeys(checked, 'overloadRetry', OVERLOAD_RETRY_OPTION_NAMES);
  const maxRetries: unknown = checked.maxRetries ?? 2;
  if (typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 10) {
    throw invalidParameter('overloadRetry.maxRetries', 'integer in 0..10', maxRetries);
  }
  const maxDelayMs: unknown = checked.maxDelayMs ?? 2000;
  if (typeof maxDelayMs !== 'number' || !(maxDelayMs >= 0) || !Number.isFinite(maxDelayMs)) {
    throw invalidParameter('overloadRetry.maxDelayMs', 'finite number of milliseconds >= 0', maxDelayMs);
  }
  return { maxRetries, maxDelayMs };
}

/**
 * Builds an interceptor that adds `authorization: Bearer <token>` to every call, and the
 * `traceparent` from `traceparent()` to calls that do not carry one already.
 */
export function metadataInterceptor(
  token: (() => string) | undefined,
  traceparent: (() => string | undefined) | undefined,
): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (token !== undefined) metadata.set('authorization', `Bearer ${token()}`);
        if (traceparent !== undefined && metadata.get(TRACEPARENT_METADATA_KEY).length === 0) {
          const value = traceparent();
          if (value !== undefined) metadata.set(TRACEPARENT_METADATA_KEY, value);
        }
        next(metadata, listener);
      },
    });
}
