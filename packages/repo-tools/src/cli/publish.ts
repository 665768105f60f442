import { publishRepository, DEFAULT_MAX_AGE } from '../publish/index.js';
import { number, str, usage, type Command } from './command.js';
import { kb } from './format.js';
import { repoOf } from './source.js';

export const publish: Command = {
  summary: 'upload the repository to a bucket or folder, in the order that keeps clients safe',
  usage: `tufup-repo publish --to DEST [--endpoint URL] [--region REGION] [--path-style] [--acl ACL] [--max-age SECONDS] [--force]
  Uploads metadata/ and targets/ to DEST: s3://bucket/prefix (AWS S3, R2, MinIO, Spaces, GCS interop;
  needs @aws-sdk/client-s3, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the SDK's chain)
  or a folder a web server serves. Order: targets, then the versioned metadata, the root chain and
  root.json, then timestamp.json last, so clients see the old release or the new one at every moment;
  a publish that was stopped is completed by running it again. Files already there are skipped.
  Cache-Control (S3): immutable for targets and versioned metadata, max-age=SECONDS (default
  ${DEFAULT_MAX_AGE}) for timestamp.json and root.json. A folder's web server sets its own headers.
  --force overwrites a versioned metadata file the destination holds with other bytes (PUBLISH_CONFLICT).
  Progress goes to stderr.`,
  options: {
    to: { type: 'string' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    'path-style': { type: 'boolean', default: false },
    acl: { type: 'string' },
    'max-age': { type: 'string' },
    force: { type: 'boolean', default: false },
  },
  async run(args) {
    const to = str(args, 'to');
    if (to === undefined) throw usage('publish needs --to s3://bucket/prefix or --to FOLDER');
    const endpoint = str(args, 'endpoint');
    const region = str(args, 'region');
    const acl = str(args, 'acl');
    const maxAge = str(args, 'max-age');
    const r = await publishRepository({
      repoDir: repoOf(args),
      to,
      s3: {
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(region === undefined ? {} : { region }),
        ...(acl === undefined ? {} : { acl }),
        pathStyle: args.values['path-style'] === true,
      },
      ...(maxAge === undefined ? {} : { maxAge: number(maxAge, '--max-age') }),
      force: args.values.force === true,
      logger: { info: (m) => process.stderr.write(`${m}\n`), warn: (m) => process.stderr.write(`warning: ${m}\n`) },
    });
    const text = `published to ${r.destination}: ${r.uploaded.length} file(s), ${kb(r.bytes)} uploaded, ${r.skipped} already there; timestamp v${r.metadata.timestamp}, targets v${r.metadata.targets}, root v${r.metadata.root}`;
    return { result: r, text };
  },
};
