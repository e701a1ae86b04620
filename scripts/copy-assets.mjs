/**
 * The second step of `npm run build`: src's files that are not TypeScript (the dashboard's static
 * files, the CLI's entry) go beside the compiled modules in dist/src, where the compiled code
 * looks for them as the source does beside itself.
 */
import { cpSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
cpSync(resolve(root, 'src'), resolve(root, 'dist/src'), { recursive: true, filter: (p) => statSync(p).isDirectory() || !p.endsWith('.ts') });
