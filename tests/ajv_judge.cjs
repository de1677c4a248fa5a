// Judges cases with ajv for tests/test_differential.py: one node process for every case.
// stdin, JSON lines: first {"schemas": {name: JSON Schema}}, then one {"schema": name, "value": ...} per case.
// stdout: one JSON line per case, {"valid": bool, "errors": [{instancePath, keyword}]}.
"use strict";
const path = require("path");
const readline = require("readline");

const Ajv = require(path.join(process.argv[2], "node_modules", "ajv"));
// strict: false only because the schemas keep their annotations (title, description); validation itself is
// ajv's default (draft-07, ECMA-262 patterns with the u flag, lengths in code points).
const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
const compiled = {};
const lines = readline.createInterface({ input: process.stdin, terminal: false });
const out = [];
let first = true;
lines.on("line", (line) => {
  if (!line) return;
  const message = JSON.parse(line);
  if (first) {
    first = false;
    for (const [name, schema] of Object.entries(message.schemas)) compiled[name] = ajv.compile(schema);
    return;
  }
  const validate = compiled[message.schema];
  const valid = validate(message.value);
  const errors = valid ? [] : validate.errors.map((e) => ({ instancePath: e.instancePath, keyword: e.keyword }));
  out.push(JSON.stringify({ valid, errors }));
});
lines.on("close", () => {
  process.stdout.write(out.join("\n") + "\n");
});
