// Dependency rules for src/ (npm run deps). The layers, from docs/architecture.md:
//   app/ wires everything; flows/ → engine/ → store/; flows/ see ports — the ITSM port (itsm/port.ts)
//   and the Microsoft cloud clients they are about (connectors/microsoft/) — never an ITSM adapter
//   (itsm/<vendor>/) or the raw HTTP client (connectors/http.ts).
//
// Type-only imports (`import type`, `typeof import(…)`) are cruised (tsPreCompilationDeps: true), and
// they count for the layer rules: a flow that names a ServiceNow record type is coupled to ServiceNow
// all the same. They do not count for cycles: they are erased before run time, so a cycle through one
// cannot cause a module to see another half-initialised; `import type` is the usual way out of one.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A runtime import cycle in src/ (type-only imports do not count: they are erased).',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only', 'type-import'] } },
    },
    {
      name: 'sandbox-only-from-cli',
      severity: 'error',
      comment: 'Only the CLI (src/cli/) starts the sandbox, through its lazy import.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^sandbox/' },
    },
    {
      name: 'flows-see-ports-not-vendors',
      severity: 'error',
      comment:
        'src/flows/ reach systems through ports (itsm/port.ts, connectors/microsoft/), never an ITSM adapter or raw HTTP.',
      from: { path: '^src/flows/' },
      to: { path: ['^src/connectors/http\\.ts$', '^src/itsm/(?!port\\.ts$|watch\\.ts$)'] },
    },
    {
      name: 'a-flow-is-a-folder',
      severity: 'error',
      comment:
        'A flow imports no other flow: what two flows share lives in the core (config/, app/, identity/, engine/…).',
      from: { path: '^src/flows/([^/]+)/' },
      to: { path: '^src/flows/', pathNot: '^src/flows/$1/' },
    },
    {
      name: 'engine-is-generic',
      severity: 'error',
      comment: 'src/engine/ knows jobs and flows in general, no flow, vendor, ITSM, HTTP server or app wiring.',
      from: { path: '^src/engine/' },
      to: { path: '^src/(connectors|flows|itsm|http|app)/' },
    },
    {
      name: 'store-is-the-bottom',
      severity: 'error',
      comment: 'src/store/ depends on no layer above it.',
      from: { path: '^src/store/' },
      to: { path: '^src/(engine|flows|itsm|connectors|app|http)/' },
    },
    {
      name: 'src-not-to-test-or-bench',
      severity: 'error',
      comment: 'Runtime code never imports tests or benchmarks.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'runtime-not-to-dev-dep',
      severity: 'error',
      comment:
        'src/ and sandbox/ run from dist/ after `npm ci --omit=dev`: a devDependency is not there (types are fine).',
      from: { path: '^(src|sandbox)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only', 'type-import'] },
    },
    {
      name: 'no-undeclared-package',
      severity: 'error',
      comment: 'A package imported but not in package.json (it only works while something else pulls it in).',
      from: { path: '^(src|sandbox)/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'console-sees-the-api-only',
      severity: 'error',
      comment:
        'The console (browser code) talks to Ticketloop over HTTP; of the server it shares only the role table (src/identity/roles.ts).',
      from: { path: '^console/src/' },
      to: { path: '^(src|sandbox|test|bench)/', pathNot: '^src/identity/roles\\.ts$' },
    },
    {
      name: 'server-not-to-console',
      severity: 'error',
      comment: 'The server serves the built console (dist/console) as files; it imports none of its code.',
      from: { path: '^(src|sandbox)/' },
      to: { path: '^console/' },
    },
    {
      name: 'notify-is-flow-neutral',
      severity: 'error',
      comment: 'src/notify/ serves every flow: it imports no flow, ITSM adapter, app wiring or HTTP server code.',
      from: { path: '^src/notify/' },
      to: { path: '^src/(flows|itsm|app|http|identity)/' },
    },
    {
      name: 'shared-roles-stay-pure',
      severity: 'error',
      comment: 'src/identity/roles.ts runs in the browser too: it imports nothing.',
      from: { path: '^src/identity/roles\\.ts$' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
