import { HealthCheckResponse_ServingStatus } from './gen/grpc/health/v1/health';
import type { CallOptions } from './call';

/** Serving status names of the gRPC health checking protocol (`grpc.health.v1`). */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** Parameters of `client.health`, plus the call options. */
export interface HealthCheckOptions extends CallOptions {
  /**
   * Name of the service to check. A name that the daemon has not registered rejects with a
   * NotFoundError. Default: `''`, the daemon as a whole.
   */
  service?: string;
}

/** Returns the name of a serving status, or `'UNKNOWN'` for a value that this protocol version lacks. */
export function healthStatusName(servingStatus: HealthCheckResponse_ServingStatus): HealthStatus {
  switch (servingStatus) {
    case HealthCheckResponse_ServingStatus.SERVING:
      return 'SERVING';
    case HealthCheckResponse_ServingStatus.NOT_SERVING:
      return 'NOT_SERVING';
    case HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN:
      return 'SERVICE_UNKNOWN';
    default:
      return 'UNKNOWN';
  }
}
