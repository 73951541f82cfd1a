/** Paths of nodes in the coordinator's tree (ZooKeeper-style: absolute, '/'-separated). */
/** Parent of a path ('/a/b' → '/a'; '/a' → '/'). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Joins path segments into a normalised absolute path. */
export function joinPath(...parts: string[]): string {
  const joined = `/${parts.join('/')}`.replace(/\/+/g, '/');
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

/** Throws unless `path` is an absolute path without empty or relative segments. */
export function assertValidPath(path: string): void {
  if (path === '/') return;
  if (!path.startsWith('/') || path.endsWith('/') || path.includes('//') || /\/\.\.?(\/|$)/.test(path) || path.includes('\u0000')) {
    throw new TypeError(`invalid coordinator path: ${JSON.stringify(path)}`);
  }
}
