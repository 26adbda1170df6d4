#!/usr/bin/env node
// Converts the SFDX source in force-app/ to Metadata API format (what `sf project convert source`
// does) with Salesforce's own library, @salesforce/source-deploy-retrieve, offline: no org, no CLI.
// Usage: node convert-offline.cjs <path to the SDR package> <project dir> <output dir>
// Prints one JSON object: the resolved components, the generated package.xml and the files written.
'use strict';

const fs = require('fs');
const path = require('path');

async function main() {
  const [sdrPath, projectDir, outputDir] = process.argv.slice(2);
  if (!sdrPath || !projectDir || !outputDir) {
    throw new Error('usage: convert-offline.cjs <sdr package dir> <project dir> <output dir>');
  }
  const { ComponentSet, MetadataConverter } = require(path.resolve(sdrPath));
  const project = JSON.parse(fs.readFileSync(path.join(projectDir, 'sfdx-project.json'), 'utf8'));
  const sourceDirs = project.packageDirectories.map((d) => path.join(projectDir, d.path));
  const components = ComponentSet.fromSource(sourceDirs);
  components.sourceApiVersion = project.sourceApiVersion;
  components.apiVersion = project.sourceApiVersion;
  const result = await new MetadataConverter().convert(components, 'metadata', {
    type: 'directory',
    outputDirectory: path.resolve(outputDir),
    genUniqueDir: false,
  });
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(path.relative(result.packagePath, full));
    }
  };
  walk(result.packagePath);
  const resolved = components
    .getSourceComponents()
    .toArray()
    .map((c) => ({ type: c.type.name, fullName: c.fullName }));
  process.stdout.write(
    JSON.stringify({
      packagePath: result.packagePath,
      components: resolved,
      packageXml: await components.getPackageXml(),
      files: files.sort(),
    }),
  );
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
