// Resident memory of a process, from Linux's /proc/PID/status.
import { readFileSync } from 'node:fs';

function statusBytes(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Returns the peak resident set size (VmHWM) of process `pid` in bytes, or NaN when unreadable. */
export const peakRssBytes = (pid) => statusBytes(pid, 'VmHWM');

/** Returns the current resident set size (VmRSS) of process `pid` in bytes, or NaN when unreadable. */
export const rssBytes = (pid) => statusBytes(pid, 'VmRSS');
