// Test certificates made with the openssl command line: a CA, a server
// certificate for 127.0.0.1-3 and localhost, a client certificate for mutual
// TLS, an expired server certificate, and a second, unrelated CA with its own
// client certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(cwd, name) {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], cwd);
}

function newCa(cwd, name) {
  newKey(cwd, name);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`], cwd);
}

// Signs a certificate for `name` with `ca`, valid from `start` to `end`
// (openssl ca date format YYYYMMDDHHMMSSZ), with `extensions` as config text.
function signWithDates(cwd, ca, name, subject, extensions, start, end) {
  newKey(cwd, name);
  openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], cwd);
  const caDir = path.join(cwd, `${ca}-db`);
  execFileSync('mkdir', ['-p', caDir]);
  writeFileSync(path.join(caDir, 'index.txt'), '');
  writeFileSync(
    path.join(cwd, `${name}.cnf`),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${caDir}/index.txt`,
      `new_certs_dir = ${caDir}`,
      `certificate = ${cwd}/${ca}.pem`,
      `private_key = ${cwd}/${ca}.key`,
      'default_md = sha256',
      'policy = any_policy',
      'rand_serial = yes',
      'unique_subject = no',
      'copy_extensions = none',
      '[any_policy]',
      'commonName = supplied',
      '[extensions]',
      extensions,
      '',
    ].join('\n'),
  );
  openssl(
    ['ca', '-batch', '-config', `${name}.cnf`, '-extensions', 'extensions', '-in', `${name}.csr`, '-out', `${name}.pem`,
      '-startdate', start, '-enddate', end, '-notext'],
    cwd,
  );
}

function stamp(date) {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

const SERVER_EXTENSIONS =
  'subjectAltName = IP:127.0.0.1, IP:127.0.0.2, IP:127.0.0.3, DNS:localhost\nextendedKeyUsage = serverAuth';
const CLIENT_EXTENSIONS = 'extendedKeyUsage = clientAuth';

/** Makes every test certificate in a new temp directory and returns their file paths and contents. */
export function makeCertificates() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'heavylift-certs-'));
  const now = Date.now();
  const day = 24 * 3600 * 1000;
  const validFrom = stamp(new Date(now - day));
  const validTo = stamp(new Date(now + day));

  newCa(dir, 'ca');
  signWithDates(dir, 'ca', 'server', '/CN=heavylift-server', SERVER_EXTENSIONS, validFrom, validTo);
  signWithDates(dir, 'ca', 'client', '/CN=heavylift-client', CLIENT_EXTENSIONS, validFrom, validTo);
  signWithDates(dir, 'ca', 'expired', '/CN=heavylift-expired', SERVER_EXTENSIONS,
    stamp(new Date(now - 10 * day)), stamp(new Date(now - 5 * day)));
  newCa(dir, 'other-ca');
  signWithDates(dir, 'other-ca', 'other-client', '/CN=other-client', CLIENT_EXTENSIONS, validFrom, validTo);

  const file = (name) => path.join(dir, name);
  const read = (name) => readFileSync(file(name));
  return {
    dir,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
    expiredCertFile: file('expired.pem'),
    expiredKeyFile: file('expired.key'),
    ca: read('ca.pem'),
    otherCa: read('other-ca.pem'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    otherClientCert: read('other-client.pem'),
    otherClientKey: read('other-client.key'),
  };
}
