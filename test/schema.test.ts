import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import codegenConfig from '../codegen.js';
import { printGatewaySchema, SCHEMA_FILE } from '../src/schema/sdl.js';

const contractCheck = new URL('../../shared/contract/check.mjs', import.meta.url);

describe('the committed schema and generated operations', () => {
  it('schema/schema.graphql equals the built schema (run `npm run schema`)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printGatewaySchema());
  });

  it('client/src/operations.ts equals the codegen output (run `npm run codegen`)', async () => {
    const outputs = (await generate({ ...codegenConfig, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      expect(readFileSync(new URL(`../${output.filename}`, import.meta.url), 'utf8'), output.filename).toBe(output.content);
    }
  });

  it.skipIf(!existsSync(contractCheck))('keeps the public contract (../shared/contract)', () => {
    const result = spawnSync(process.execPath, [contractCheck.pathname, 'schema/schema.graphql'], { encoding: 'utf8' });
    expect(result.stdout).toContain('contract: 0 breaking, 0 differing');
    expect(result.status).toBe(0);
  });
});
