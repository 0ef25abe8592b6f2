#!/usr/bin/env node
// The `postern` command. Plain JavaScript on purpose: it must run on any Node to be able to say
// what is wrong when the Node is too old to run the TypeScript sources.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `postern: needs Node.js 24 or later, but this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      `  Run it through npm, which puts the project's pinned Node 24 first on PATH:\n` +
      `    npm install            (once, installs node@24 into node_modules)\n` +
      `    npm start              (or: npx postern <command>)\n` +
      `  or call it directly: node_modules/.bin/node bin/postern.js <command>\n`,
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
