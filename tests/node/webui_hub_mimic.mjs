// A local mimic of the Hugging Face hub for download tests: it serves model directories as repos
// (/api/models/{repo}/revision/{rev}, /api/models/{repo}/tree/{rev}, /{repo}/resolve/{rev}/{file},
// with Range requests), and can hold one file half-sent until the test releases it, so a test can
// see a download in progress without depending on timing.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

function listFiles(dir) {
  const out = [];
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

export async function startHubMimic({ repos, holdFile = null }) {
  const commit = 'a'.repeat(40);
  const info = new Map();
  for (const [repo, dir] of Object.entries(repos)) {
    const files = listFiles(dir).map((rel) => {
      const data = fs.readFileSync(path.join(dir, rel));
      return { rel, size: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') };
    });
    info.set(repo, { dir, files });
  }
  let release = null;
  let released = new Promise((resolve) => (release = resolve));
  const state = { held: 0, requests: [] };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://hub');
    const p = decodeURIComponent(url.pathname);
    state.requests.push(`${req.method} ${p}`);
    const api = p.match(/^\/api\/models\/(.+?)\/(revision|tree)\/([^/]+)$/);
    if (api) {
      const repo = info.get(api[1]);
      if (!repo) {
        res.writeHead(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'RepoNotFound' });
        return res.end(JSON.stringify({ error: 'Repository not found' }));
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (api[2] === 'revision') {
        return res.end(JSON.stringify({
          id: api[1],
          sha: commit,
          siblings: repo.files.map((f) => ({ rfilename: f.rel, size: f.size, lfs: f.size > 1e6 ? { sha256: f.sha256, size: f.size } : undefined })),
        }));
      }
      return res.end(JSON.stringify(repo.files.map((f) => ({ type: 'file', path: f.rel, size: f.size, oid: 'b'.repeat(40), lfs: f.size > 1e6 ? { oid: f.sha256, size: f.size } : undefined }))));
    }
    for (const [name, repo] of info) {
      const prefix = `/${name}/resolve/`;
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const rel = rest.slice(rest.indexOf('/') + 1);
      const file = repo.files.find((f) => f.rel === rel);
      if (!file) break;
      const data = fs.readFileSync(path.join(repo.dir, rel));
      let start = 0;
      const range = (req.headers.range || '').match(/^bytes=(\d+)-$/);
      if (range) start = Math.min(Number(range[1]), data.length);
      const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length - start, ETag: `"${file.sha256}"`, 'X-Repo-Commit': commit };
      if (range) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
      res.writeHead(range ? 206 : 200, headers);
      if (rel === holdFile) {
        const half = start + Math.floor((data.length - start) / 2);
        res.write(data.subarray(start, half));
        state.held++;
        const closed = new Promise((resolve) => res.on('close', resolve));
        await Promise.race([released, closed]);
        if (!res.destroyed) res.end(data.subarray(half));
        return;
      }
      return res.end(data.subarray(start));
    }
    res.writeHead(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'EntryNotFound' });
    res.end(JSON.stringify({ error: `not found: ${p}` }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    // Lets every held and future request of holdFile finish.
    release() {
      release();
    },
    // Holds holdFile again for the requests that come after this call.
    hold() {
      released = new Promise((resolve) => (release = resolve));
    },
    close() {
      release();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
