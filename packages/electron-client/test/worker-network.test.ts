import { EventEmitter } from 'node:events';
import type { AuthenticationResponseDetails, AuthInfo, Event, Session } from 'electron';
import { describe, expect, it } from 'vitest';
import { forwardLogin, workerForkOptions } from '../src/main/worker-network.js';

// Electron cannot start here: these check what the adapter hands to utilityProcess.fork and to the
// app's login handler, against Electron's typings (ForkOptions, UtilityProcess 'login', App 'login').

const details = { url: 'https://updates.example/metadata/timestamp.json', responseHeaders: {} } as unknown as AuthenticationResponseDetails;
const authInfo: AuthInfo = { isProxy: true, scheme: 'basic', host: 'proxy.corp', port: 3128, realm: 'corp' };

function loginEvent(): Event & { prevented: boolean } {
  const event = { prevented: false, preventDefault: () => (event.prevented = true) };
  return event as unknown as Event & { prevented: boolean };
}

describe('the worker\'s network', () => {
  it('asks Electron to route proxy and server logins to the main process, with the app\'s session when given', () => {
    expect(workerForkOptions(undefined)).toEqual({ serviceName: 'tufup updater', respondToAuthRequestsFromMainProcess: true });
    const session = { id: 'persist:app' } as unknown as Session;
    expect(workerForkOptions(session)).toEqual({ serviceName: 'tufup updater', respondToAuthRequestsFromMainProcess: true, session });
  });

  it('hands a login on the worker to the app\'s app.on(\'login\'), whose credentials answer it', () => {
    const app = new EventEmitter();
    app.on('login', (event: Event, webContents: unknown, _details: AuthenticationResponseDetails, info: AuthInfo, callback: (u?: string, p?: string) => void) => {
      expect(webContents).toBeNull();
      if (!info.isProxy) return;
      event.preventDefault();
      callback('me', 'secret');
    });
    const event = loginEvent();
    const answers: [string?, string?][] = [];
    forwardLogin(app, event, details, authInfo, (u, p) => answers.push([u, p]));
    expect(event.prevented).toBe(true);
    expect(answers).toEqual([['me', 'secret']]);
  });

  it('leaves the login alone when the app has no login handler: Electron then cancels it', () => {
    const event = loginEvent();
    const answers: unknown[] = [];
    forwardLogin(new EventEmitter(), event, details, authInfo, () => answers.push('called'));
    expect(event.prevented).toBe(false);
    expect(answers).toEqual([]);
  });
});
