// Starts the real mofa-server binary on a free loopback port for the server's end-to-end tests
// and checks outcomes; every test file uses it the same way.
import { spawn } from 'node:child_process';

export function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  return args;
}

// Spawns `binary` with `flags` (plus --port 0) and resolves once it listens.
export async function startServer(binary, flags, env = {}) {
  const child = spawn(binary, [...flags, '--host', '127.0.0.1', '--port', '0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mofa-server did not start:\n${log}`)), 120000);
    child.stderr.on('data', (d) => {
      log += d.toString();
      const m = log.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`mofa-server exited with ${code}:\n${log}`)));
  });
  child.stderr.on('data', (d) => (log += d.toString()));
  return {
    url,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

let failures = 0;
export function check(ok, message) {
  if (!ok) {
    failures += 1;
    console.error(`FAIL: ${message}`);
  }
}

// Runs one named step; an exception counts as a failure and the next step still runs.
export async function step(name, fn) {
  const before = failures;
  try {
    await fn();
  } catch (e) {
    failures += 1;
    console.error(`FAIL: ${name}: ${e.stack || e}`);
  }
  console.log(`${failures === before ? 'ok  ' : 'FAIL'} ${name}`);
}

export function finish(server) {
  if (failures > 0) {
    console.error(`${failures} check(s) failed; server log:\n${server ? server.log() : ''}`);
    process.exit(1);
  }
  console.log('all checks passed');
}

// Reads an SSE body into its data payloads.
export async function readSse(response) {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice(6));
}
