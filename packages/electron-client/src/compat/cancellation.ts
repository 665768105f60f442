import { EventEmitter } from 'node:events';

/** electron-updater's error for a cancelled download: the promise rejects with it, and no `error` event is emitted. */
export class CancellationError extends Error {
  override readonly name = 'CancellationError';
  constructor() {
    super('cancelled');
  }
}

/**
 * electron-updater's `CancellationToken` (builder-util-runtime): `cancel()` stops the download it was
 * given to, `cancelled` says whether it was, and a `cancel` event fires once. A token made with a parent
 * is cancelled with it. Inside, it is an AbortSignal, which is what the client takes.
 */
export class CancellationToken extends EventEmitter {
  private readonly controller = new AbortController();
  private parentToken: CancellationToken | null = null;
  private readonly onParentCancel = (): void => this.cancel();

  constructor(parent?: CancellationToken) {
    super();
    if (parent !== undefined) this.parent = parent;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted || this.parentToken?.cancelled === true;
  }

  set parent(value: CancellationToken) {
    this.parentToken?.removeListener('cancel', this.onParentCancel);
    this.parentToken = value;
    if (value.cancelled) this.cancel();
    else value.once('cancel', this.onParentCancel);
  }

  /** The AbortSignal the client's download takes. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  cancel(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(new CancellationError());
    this.emit('cancel');
  }

  /** Forgets the parent; the token itself stays as it is. */
  dispose(): void {
    this.parentToken?.removeListener('cancel', this.onParentCancel);
    this.parentToken = null;
  }
}
