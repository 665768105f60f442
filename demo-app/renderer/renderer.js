// @ts-check
// The demo window. It sees the updater only through `window.tufup`, the bridge the preload script exposes
// (see docs/electron-client.md), and draws one status object: the one `tufup.status()` returns, kept up
// to date by the updater's events.

/** @typedef {import('@tufup/electron-client/preload').UpdaterBridge} UpdaterBridge */
/** @typedef {import('@tufup/electron-client/preload').UpdaterStatus} UpdaterStatus */
/** @typedef {import('@tufup/electron-client/preload').UpdateSummary} UpdateSummary */
/** @typedef {import('@tufup/electron-client/preload').ErrorPayload} ErrorPayload */
/** @typedef {NonNullable<UpdaterStatus['progress']>} Progress */

(() => {
  /**
   * @template {HTMLElement} T
   * @param {string} id
   * @param {new () => T} type
   * @returns {T}
   */
  const element = (id, type) => {
    const found = document.getElementById(id);
    if (!(found instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
    return found;
  };

  const view = {
    currentVersion: element('current-version', HTMLElement),
    status: element('status', HTMLElement),
    update: element('update', HTMLElement),
    updateVersion: element('update-version', HTMLElement),
    required: element('required', HTMLElement),
    updateSize: element('update-size', HTMLElement),
    releaseNotes: element('release-notes', HTMLElement),
    progressBlock: element('progress-block', HTMLElement),
    progress: element('progress', HTMLProgressElement),
    progressText: element('progress-text', HTMLElement),
    error: element('error', HTMLElement),
    check: element('check', HTMLButtonElement),
    download: element('download', HTMLButtonElement),
    install: element('install', HTMLButtonElement),
  };

  /** @param {number} bytes */
  const formatBytes = (bytes) => {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  };

  /** @type {Record<Progress['phase'], string>} */
  const PHASES = { download: 'Downloading', patch: 'Applying the patch', extract: 'Unpacking' };
  /** @type {Record<Progress['phase'], string>} */
  const BYTES = { download: 'downloaded', patch: 'written', extract: 'unpacked' };

  /** @param {UpdaterStatus} s */
  const headline = (s) => {
    const version = s.update?.version ?? '';
    switch (s.state) {
      case 'idle':
        return 'Not checked for updates yet.';
      case 'unsupported':
        return `This copy cannot update itself: ${s.unsupported?.message ?? 'unknown reason'}.`;
      case 'checking':
        return 'Checking for updates…';
      case 'available':
        return `Version ${version} is available.`;
      case 'not-available':
        return `You have the newest version.`;
      case 'downloading':
        return `Downloading version ${version}…`;
      case 'downloaded':
        return `Version ${version} is ready: restart to update.`;
      case 'error':
        return 'The update failed.';
    }
  };

  /** @type {UpdaterStatus} */
  let status = { state: 'idle', currentVersion: '' };
  let busy = false;
  // An event can arrive before the first status() answer; the answer must not undo it.
  let eventSeen = false;

  /** @param {UpdaterStatus} s */
  const render = (s) => {
    view.currentVersion.textContent = s.currentVersion || '…';
    view.status.textContent = headline(s);
    view.status.dataset.state = s.state;

    const update = s.update;
    view.update.hidden = update === undefined || s.state === 'not-available' || s.state === 'checking';
    if (update !== undefined) {
      view.updateVersion.textContent = update.version;
      view.required.hidden = !update.required;
      const how = update.strategy === 'patch' ? 'as a patch' : 'as the full archive';
      view.updateSize.textContent = `${formatBytes(update.downloadSize)} to download ${how}`;
      view.releaseNotes.textContent = update.releaseNotes ?? 'No release notes.';
    }

    const downloading = s.state === 'downloading';
    view.progressBlock.hidden = !downloading;
    const progress = s.progress;
    // The bar is the whole update (it only grows); the text names the phase and its own bytes, which are
    // network bytes while downloading and disk bytes while patching or unpacking.
    view.progress.value = downloading && progress !== undefined ? Math.round(progress.percent) : 0;
    view.progressText.textContent =
      downloading && progress !== undefined
        ? `${PHASES[progress.phase]} ${Math.round(progress.phasePercent)}% (${formatBytes(progress.transferred)} of ${formatBytes(progress.total)} ${BYTES[progress.phase]})`
        : 'Starting…';

    view.error.hidden = s.state !== 'error';
    view.error.textContent = s.error === undefined ? '' : `${s.error.message} (${s.error.code})`;

    view.check.disabled = busy || s.state === 'checking' || s.state === 'downloading' || s.state === 'unsupported';
    view.download.disabled = busy || s.state !== 'available';
    view.install.disabled = busy || s.state !== 'downloaded';
  };

  /** @param {Partial<UpdaterStatus> & Pick<UpdaterStatus, 'state'>} next */
  const show = (next) => {
    eventSeen = true;
    status = { currentVersion: status.currentVersion, ...next };
    render(status);
  };

  /** @param {ErrorPayload} error */
  const showError = (error) => {
    show(status.update === undefined ? { state: 'error', error } : { state: 'error', error, update: status.update });
  };

  /**
   * Runs one request with the buttons held, and shows a refused request as an error.
   * @param {() => Promise<{ ok: true } | { ok: false, error: ErrorPayload }>} request
   */
  const act = async (request) => {
    busy = true;
    render(status);
    try {
      const result = await request();
      if (!result.ok) showError(result.error);
    } catch (error) {
      showError({ code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) });
    } finally {
      busy = false;
      render(status);
    }
  };

  const tufup = /** @type {{ tufup?: UpdaterBridge }} */ (/** @type {unknown} */ (window)).tufup;
  if (tufup === undefined) {
    showError({ code: 'CONFIG', message: 'window.tufup is missing: the preload script did not run' });
    return;
  }

  tufup.on('checking-for-update', () => show({ state: 'checking' }));
  tufup.on('update-available', (update) => show({ state: 'available', update }));
  tufup.on('update-not-available', () => show({ state: 'not-available' }));
  tufup.on('download-progress', (progress) => {
    show(status.update === undefined ? { state: 'downloading', progress } : { state: 'downloading', progress, update: status.update });
  });
  tufup.on('update-downloaded', (update) => show({ state: 'downloaded', update }));
  tufup.on('error', showError);

  view.check.addEventListener('click', () => void act(() => tufup.check()));
  view.download.addEventListener('click', () => void act(() => tufup.download()));
  view.install.addEventListener('click', () => void act(() => tufup.install()));

  tufup.status().then(
    (initial) => {
      status = eventSeen ? { ...status, currentVersion: initial.currentVersion } : initial;
      render(status);
    },
    (/** @type {unknown} */ error) => showError({ code: 'INTERNAL', message: String(error) }),
  );
})();
