import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const SOURCE = dirname(fileURLToPath(import.meta.url));

/** Where the gateway serves the page from (src/plugins/use-account-page.ts). */
export const DEFAULT_ACCOUNT_PAGE_OUTDIR = join(SOURCE, '..', 'dist', 'account');

export interface BuildAccountPageOptions {
  /** DEFAULT_ACCOUNT_PAGE_OUTDIR. */
  readonly outdir?: string;
}

/**
 * Builds the account page into static files: index.html, account.js (the page and the client
 * SDK bundled for browsers, one ES module) and account.css. No CDN and no inline code, so the
 * gateway can serve it under a Content-Security-Policy of `'self'` only.
 */
export async function buildAccountPage({ outdir = DEFAULT_ACCOUNT_PAGE_OUTDIR }: BuildAccountPageOptions = {}): Promise<{ bytes: Record<string, number> }> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: [
      { in: join(SOURCE, 'src', 'main.ts'), out: 'account' },
      { in: join(SOURCE, 'account.css'), out: 'account' },
    ],
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    minify: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(join(SOURCE, 'index.html'), join(outdir, 'index.html'));
  const bytes: Record<string, number> = {};
  for (const [file, { bytes: size }] of Object.entries(result.metafile.outputs)) bytes[file] = size;
  return { bytes };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { bytes } = await buildAccountPage();
  for (const [file, size] of Object.entries(bytes)) console.log(`${file}  ${(size / 1024).toFixed(1)} KiB`);
}
