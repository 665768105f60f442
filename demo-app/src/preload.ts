// The window's preload script. A sandboxed preload can only `require('electron')`, so
// `npm run build -w tufup-demo-app` bundles this file and the client's preload code into out/preload.cjs.
import { exposeUpdater } from '@tufup/electron-client/preload';

exposeUpdater();
