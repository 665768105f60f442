import { resolve } from 'node:path';
import { TRUST_FILE } from '@tufup/bundle';
import { trustFileOf, writeTrustFile } from '../trust.js';
import { str, type Command } from './command.js';
import { repoOf } from './source.js';

export const trust: Command = {
  summary: `print or write the trust file apps ship (${TRUST_FILE})`,
  usage: `tufup-repo trust [--out FILE] [--url URL]
  Prints the trust file an app built now should ship as <resources>/${TRUST_FILE}: the app name, the
  repository's URL (from init --url, or --url) and its current root.json. With --out, writes it to FILE
  atomically. The repository keeps an up-to-date copy at DIR/${TRUST_FILE}: point electron-builder's
  extraResources (or Forge's packagerConfig.extraResource) at it.`,
  options: { out: { type: 'string' }, url: { type: 'string' } },
  async run(args) {
    const out = str(args, 'out');
    const url = str(args, 'url');
    const options = { repoDir: repoOf(args), ...(url === undefined ? {} : { url }) };
    if (out === undefined) {
      const r = await trustFileOf(options);
      const text = r.bytes.toString('utf8');
      return { result: { appName: r.appName, url: r.url, rootVersion: r.rootVersion, trust: JSON.parse(text) as unknown }, text: text.trimEnd() };
    }
    const r = await writeTrustFile({ ...options, out: resolve(out) });
    const where = r.url === undefined ? 'no URL (the app must pass one)' : r.url;
    return {
      result: { appName: r.appName, url: r.url, rootVersion: r.rootVersion, file: r.file },
      text: `wrote ${r.file}: ${r.appName}, root v${r.rootVersion}, ${where}`,
    };
  },
};
