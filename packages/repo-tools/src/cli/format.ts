import type { KeyChangeResult } from '../keyring.js';
import type { RemoveResult } from '../release.js';

/** A size for people: bytes, KiB or MiB. */
export function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

/** What a key or threshold change did to a role (keys, threshold). */
export function keyChangeText(r: KeyChangeResult): string {
  const lines = [`${r.role}: ${r.keyids.length} key(s), threshold ${r.threshold}; root is now version ${r.metadata.root}`];
  for (const k of r.added) lines.push(`  added   ${k.keyid} (${k.file})`);
  for (const id of r.removed) lines.push(`  removed ${id}`);
  for (const key of r.retired) {
    for (const file of key.deleted) lines.push(`  deleted the retired private key file ${file}`);
    for (const { file, reason } of key.kept) lines.push(`warning: could not delete the retired private key file ${file} (${reason}): delete it yourself`);
    const where = key.deleted.length + key.kept.length === 0 ? 'it had no file in the keys folder: ' : '';
    lines.push(`warning: key ${key.keyid} is retired; ${where}destroy every other copy of it (offline media, backups, CI secrets)`);
  }
  return lines.join('\n');
}

/** What a remove or prune dropped (remove, prune). */
export function removedText(r: RemoveResult): string {
  if (r.removed.length === 0) return 'nothing to remove';
  return r.removed.map((x) => `removed ${x.version} for ${x.platform}-${x.arch}: ${x.files.join(', ')}`).join('\n');
}
