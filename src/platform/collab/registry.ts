// The documents loaded on this node: one CollabDocument per address while it has connections,
// loaded once however many clients arrive together, unloaded (after a short grace) when the last
// one leaves. A document being unloaded finishes before the same address loads again.
import type { Logger } from '../logger.js';
import { CollabDocument, type DocumentOptions } from './document.js';
import type { CollabExtension, DocumentAddress } from './hooks.js';
import type { CollabLimits } from './limits.js';
import type { RedisRelay } from './redis-relay.js';
import type { CollabStorage } from './storage.js';

export interface RegistryDeps {
  storage: CollabStorage;
  extension: Pick<CollabExtension, 'onCreateDocument' | 'createDocumentState' | 'documentTypes'>;
  relay?: RedisRelay;
  logger: Logger;
  options: DocumentOptions;
  limits: CollabLimits;
  onLoaded?: (document: CollabDocument) => void;
}

export function documentKey(tenantId: string, type: string, entityId: string): string {
  return `${tenantId}:${type}:${entityId}`;
}

export class DocumentRegistry {
  readonly documents = new Map<string, CollabDocument>();
  private readonly loading = new Map<CollabDocument, Promise<void>>();
  private readonly unloading = new Map<string, Promise<void>>();

  constructor(private readonly deps: RegistryDeps) {}

  /** Documents held in memory, including those still being unloaded. */
  get size(): number {
    return this.documents.size + this.unloading.size;
  }

  async acquire(address: DocumentAddress): Promise<CollabDocument> {
    const key = documentKey(address.tenantId, address.entityType, address.entityId);
    for (let attempt = 0; attempt < 10; attempt++) {
      const leaving = this.unloading.get(key);
      if (leaving) {
        await leaving;
        continue;
      }
      let document = this.documents.get(key);
      if (!document) {
        document = this.create(key, address);
        this.documents.set(key, document);
        this.loading.set(document, this.load(document));
      }
      await this.loading.get(document);
      if (document.state === 'ready') return document;
    }
    throw new Error('the document kept unloading while it was being opened');
  }

  /** Starts unloading a document (idempotent); a new acquire for the record waits for it. */
  unload(document: CollabDocument): Promise<void> {
    const pending = this.unloading.get(document.key);
    if (this.documents.get(document.key) !== document) return pending ?? Promise.resolve();
    this.documents.delete(document.key);
    const run = document
      .unload()
      .catch((err: unknown) => this.deps.logger.error('unloading a co-editing document failed', { err: String(err) }))
      .finally(() => this.unloading.delete(document.key));
    this.unloading.set(document.key, run);
    return run;
  }

  async unloadAll(): Promise<void> {
    await Promise.all([...this.loading.values()].map((p) => p.catch(() => {})));
    await Promise.all([...this.documents.values()].map((d) => this.unload(d)));
    await Promise.all([...this.unloading.values()]);
  }

  private create(key: string, address: DocumentAddress): CollabDocument {
    const { extension } = this.deps;
    const types = extension.documentTypes?.({ address });
    return new CollabDocument(key, address, {
      storage: this.deps.storage,
      limits: this.deps.limits,
      allowedTypes: types ? new Set(types) : null,
      relay: this.deps.relay,
      logger: this.deps.logger,
      options: this.deps.options,
      createInitialState: (trx) => extension.onCreateDocument({ address, trx }),
      createHooks: extension.createDocumentState && ((document) => extension.createDocumentState!({ document })),
      requestUnload: (doc) => void this.unload(doc),
    });
  }

  private async load(document: CollabDocument): Promise<void> {
    try {
      await document.load();
      this.deps.onLoaded?.(document);
    } catch (err) {
      // Never serve (or later store) an empty document in place of one that failed to load.
      this.deps.logger.error('loading a co-editing document failed', { document: document.key, err: String(err) });
      if (this.documents.get(document.key) === document) this.documents.delete(document.key);
      await document.dispose();
      throw err;
    } finally {
      this.loading.delete(document);
    }
  }
}
