// The house's dependency rules (STYLE.md: an app never imports another app, libs/shared is the common floor, no cycles),
// checked by `npm run deps` inside `npm test`. Rules judge resolved paths, so `@reins/worker`, `../../worker/src/x.js`
// and `../../worker/dist/x.js` are the same import of apps/worker.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'Modules in a cycle load in an order that depends on who imports first; move what both need into its own module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-app-to-app',
      comment: 'An app never imports another app: what two apps share moves to libs/shared.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-app-package',
      comment: "Apps are not libraries: their packages export only package.json (for the CLI to find a role's dist/main.js).",
      severity: 'error',
      from: {},
      to: { path: '^@reins/(?!shared(/|$))' },
    },
    {
      name: 'no-shared-to-app',
      comment: 'libs/shared is the floor every app stands on; it imports no app.',
      severity: 'error',
      from: { path: '^libs/shared/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that cannot be resolved hides its edge from the rules above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript compiler API for dependency-cruiser to parse with, so swc parses the sources.
    parser: 'swc',
    // Type-only imports count: a type cycle or an app reading another app's types is the same coupling.
    tsPreCompilationDeps: true,
    // Workspace packages resolve through their exports to the built dist/ (`tsc -b` runs first in `npm test`), which
    // is a leaf here: libs/shared's own sources are cruised on their own.
    doNotFollow: { path: ['(^|/)node_modules/', '(^|/)dist/'] },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs'],
    },
  },
};
