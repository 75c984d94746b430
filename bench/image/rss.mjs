// Resident memory and CPU time of a process, from Linux's /proc/PID/status and /proc/PID/stat.
import { execFileSync } from 'node:child_process';
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

// Clock ticks per second of the utime and stime fields of /proc/PID/stat.
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Returns the user + system CPU time of process `pid` and all its threads in seconds, or NaN when unreadable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Returns this process's user + system CPU time in seconds. */
export function ownCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
