/**
 * A tiny strict XML well-formedness checker for the SVG reports: one root
 * element, balanced tags, every attribute quoted and unique, no raw `<` or
 * bare `&` in text or attributes. Returns the element tree so tests can look
 * for elements. Not a full XML parser: no DTDs, CDATA or namespaces checks.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** Concatenated, unescaped text directly inside this element. */
  text: string;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function isNameChar(c: string, first: boolean): boolean {
  const code = c.charCodeAt(0);
  const letter = (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || c === '_' || c === ':';
  if (first) return letter;
  return letter || (code >= 48 && code <= 57) || c === '-' || c === '.';
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    const line = src.slice(0, i).split('\n').length;
    throw new Error(`not well-formed XML at line ${line} (offset ${i}): ${msg}`);
  };
  const unescapeXml = (raw: string): string => {
    let out = '';
    for (let k = 0; k < raw.length; k++) {
      const c = raw[k] ?? '';
      if (c === '<') fail('raw < in text or attribute');
      if (c !== '&') {
        out += c;
        continue;
      }
      const semi = raw.indexOf(';', k);
      if (semi < 0) fail('bare &');
      const name = raw.slice(k + 1, semi);
      if (ENTITIES[name] !== undefined) out += ENTITIES[name];
      else if (/^#[0-9]+$/.test(name)) out += String.fromCodePoint(Number(name.slice(1)));
      else if (/^#x[0-9a-fA-F]+$/.test(name)) out += String.fromCodePoint(parseInt(name.slice(2), 16));
      else fail(`unknown entity &${name};`);
      k = semi;
    }
    return out;
  };
  const readName = (): string => {
    const start = i;
    if (!isNameChar(src[i] ?? '', true)) fail('expected a name');
    while (i < src.length && isNameChar(src[i] ?? '', false)) i++;
    return src.slice(start, i);
  };
  const skipSpace = (): void => {
    while (i < src.length && ' \t\r\n'.includes(src[i] ?? '')) i++;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipSpace();
      if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else return;
    }
  };

  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  skipMisc();
  if (src[i] !== '<') fail('expected the root element');
  while (i < src.length) {
    if (stack.length === 0 && root) {
      skipMisc();
      if (i < src.length) fail('content after the root element');
      break;
    }
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (src.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipSpace();
      if (src[i] !== '>') fail(`expected > after </${name}`);
      i++;
      const open = stack.pop();
      if (!open || open.name !== name) fail(`</${name}> closes <${open?.name ?? 'nothing'}>`);
    } else if (src[i] === '<') {
      i++;
      const name = readName();
      const attrs: Record<string, string> = {};
      for (;;) {
        const before = i;
        skipSpace();
        if (src[i] === '>' || src.startsWith('/>', i)) break;
        if (i === before) fail(`expected whitespace before attribute in <${name}>`);
        const attr = readName();
        skipSpace();
        if (src[i] !== '=') fail(`attribute ${attr} has no value`);
        i++;
        skipSpace();
        const q = src[i];
        if (q !== '"' && q !== "'") fail(`attribute ${attr} is not quoted`);
        const end = src.indexOf(q ?? '"', i + 1);
        if (end < 0) fail(`attribute ${attr} is not closed`);
        if (attr in attrs) fail(`duplicate attribute ${attr}`);
        attrs[attr] = unescapeXml(src.slice(i + 1, end));
        i = end + 1;
      }
      const el: XmlElement = { name, attrs, children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) fail('second root element');
      else root = el;
      if (src.startsWith('/>', i)) i += 2;
      else {
        i++;
        stack.push(el);
      }
    } else {
      const next = src.indexOf('<', i);
      const raw = src.slice(i, next < 0 ? src.length : next);
      const parent = stack[stack.length - 1];
      if (!parent) {
        if (raw.trim() !== '') fail('text outside the root element');
      } else parent.text += unescapeXml(raw);
      i = next < 0 ? src.length : next;
    }
  }
  if (stack.length > 0) fail(`unclosed <${stack[stack.length - 1]?.name ?? ''}>`);
  if (!root) return fail('no root element');
  return root;
}

/** Every element in document order (the root included) for which `pred` holds. */
export function findAll(root: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (pred(e)) out.push(e);
    for (const c of e.children) walk(c);
  };
  walk(root);
  return out;
}

/** Text of an element and all its descendants. */
export function deepText(e: XmlElement): string {
  return e.text + e.children.map(deepText).join('');
}
