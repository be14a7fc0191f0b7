// Layering rules for src/ (npm run lint): app/http → modules → platform. The platform knows no
// module and no composition root; nothing in src/ imports tests, benchmarks or seeds; no cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'platform-knows-no-module',
      comment: 'src/platform is infrastructure: engines take what they need through ports that modules implement.',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: '^src/(modules/|[^/]+\\.ts$)' },
    },
    {
      name: 'modules-know-no-app',
      comment: 'Modules are composed by the app layer (src/*.ts), never the other way round.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'src-knows-no-tests-or-tools',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'An import cycle means two files are one thing, or a port is missing.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    // Fixture trees in tests have no tsconfig of their own.
    ...(require('node:fs').existsSync('tsconfig.json') ? { tsConfig: { fileName: 'tsconfig.json' } } : {}),
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
