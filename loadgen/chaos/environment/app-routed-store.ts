import type { KvEntry, KvStore } from '../../reference-app/index.js';
import { appOfKey } from './app-keys.js';

/**
 * One app server's store over several apps, each with a store of its own (its own table, its own
 * data layer following that app's data mode): every key goes to the store of the app it names.
 */
export class AppRoutedStore implements KvStore {
  constructor(private readonly byApp: ReadonlyMap<string, KvStore>) {}

  get(key: string): Promise<KvEntry | undefined> {
    return this.of(key).get(key);
  }

  put(key: string, value: string): Promise<number> {
    return this.of(key).put(key, value);
  }

  delete(key: string): Promise<boolean> {
    return this.of(key).delete(key);
  }

  /** The entries of the app the prefix names (`m3.` or longer). */
  async entries(prefix: string): Promise<Array<[string, string]>> {
    const store = this.of(prefix);
    if (!store.entries) throw new Error(`the store of ${prefix} cannot list its entries`);
    return store.entries(prefix);
  }

  private of(key: string): KvStore {
    const app = appOfKey(key);
    const store = app === undefined ? undefined : this.byApp.get(app);
    if (!store) throw new RangeError(`${JSON.stringify(key)}: no app of this server (${[...this.byApp.keys()].join(', ')})`);
    return store;
  }
}
