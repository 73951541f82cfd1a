/** The key prefix of an app's data in the campaign's app servers (the load writes `<prefix>k<n>`, `<prefix>ws<i>.k<n>`). */
export const keyPrefix = (app: string): string => `${app}.`;

/** The app a key belongs to (what comes before its first dot); undefined for a key of no app. */
export function appOfKey(key: string): string | undefined {
  const dot = key.indexOf('.');
  return dot > 0 ? key.slice(0, dot) : undefined;
}
