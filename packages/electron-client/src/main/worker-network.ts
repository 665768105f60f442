import type { App, AuthenticationResponseDetails, AuthInfo, Event, ForkOptions, Session } from 'electron';

/**
 * How the worker is started: named, and with `respondToAuthRequestsFromMainProcess`, so that a proxy or
 * server asking its `net` requests for credentials is answered by the main process rather than cancelled:
 * by the app's `app.on('login')` when the worker uses the system network context, or through the
 * worker's own `login` event when it uses the app's `session` (see {@link forwardLogin}). With a session,
 * its proxy settings (`session.setProxy`) apply to the worker's requests.
 */
export function workerForkOptions(session: Session | undefined): ForkOptions {
  return { serviceName: 'tufup updater', respondToAuthRequestsFromMainProcess: true, ...(session === undefined ? {} : { session }) };
}

/** The part of `app` that {@link forwardLogin} uses. */
export type LoginTarget = Pick<App, 'listenerCount' | 'emit'>;

/**
 * Hands a worker's `login` event (raised when it runs with a session) to the app's `app.on('login')`
 * handlers, with `webContents` null as Electron gives it for utility processes, so the app answers proxy
 * logins in one place. Without such a handler nothing is done, and Electron cancels the login.
 */
export function forwardLogin(app: LoginTarget, event: Event, details: AuthenticationResponseDetails, authInfo: AuthInfo, callback: (username?: string, password?: string) => void): void {
  if (app.listenerCount('login') === 0) return;
  app.emit('login', event, null, details, authInfo, callback);
}
