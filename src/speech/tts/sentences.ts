/** Abbreviations whose dot does not end a sentence. */
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'vs',
  'etc',
  'e.g',
  'i.e',
  'no',
  'nr',
  'approx',
  'min',
  'max',
]);

/** Longer sentences are cut at a comma or semicolon so the first audio does not wait for a long clause. */
const LONG_SENTENCE = 160;

/**
 * Split a reply into sentences for sentence-by-sentence synthesis: at . ! ? … (with closing quotes/brackets)
 * followed by a space, and at line breaks; not after common abbreviations or inside numbers ("3.5").
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\n+/)) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    let current: string[] = [];
    for (const word of words) {
      current.push(word);
      if (endsSentence(word)) {
        out.push(...splitLong(current.join(' ')));
        current = [];
      }
    }
    if (current.length) out.push(...splitLong(current.join(' ')));
  }
  return out.filter((s) => /[\p{L}\p{N}]/u.test(s));
}

function endsSentence(word: string): boolean {
  const m = /^(.*?)([.!?…]+)["'”’)\]]*$/u.exec(word);
  if (!m) return false;
  const stem = (m[1] ?? '').toLowerCase();
  if (m[2] === '.' && (ABBREVIATIONS.has(stem) || /^[a-z]$/i.test(stem))) return false;
  return true;
}

function splitLong(sentence: string): string[] {
  if (sentence.length <= LONG_SENTENCE) return [sentence];
  const parts: string[] = [];
  let rest = sentence;
  while (rest.length > LONG_SENTENCE) {
    const window = rest.slice(0, LONG_SENTENCE);
    const cut = Math.max(window.lastIndexOf(', '), window.lastIndexOf('; '));
    if (cut < 40) break;
    parts.push(rest.slice(0, cut + 1));
    rest = rest.slice(cut + 2);
  }
  parts.push(rest);
  return parts;
}
