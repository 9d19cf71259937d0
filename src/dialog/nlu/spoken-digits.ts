/**
 * Callers read numbers out digit by digit; ASR writes them as words or spaced digits.
 * "one two three four" → "1234", "double five" → "55", "oh" → "0" (only next to other digits,
 * so "oh, my order" stays as it is), "1 2 3-4" → "1234".
 */
const DIGIT_WORDS: Record<string, string> = {
  zero: '0',
  oh: '0',
  o: '0',
  nought: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
};
const REPEATS: Record<string, number> = { double: 2, triple: 3 };
const WEAK = new Set(['oh', 'o']);

type Token =
  | { kind: 'digits'; value: string; weak: boolean; raw: string; trail: string }
  | { kind: 'repeat'; times: number; raw: string; trail: string }
  | { kind: 'word'; raw: string };

function classify(raw: string): Token {
  const m = /^(.*?)([,.;:!?]*)$/.exec(raw)!;
  const core = (m[1] ?? '').toLowerCase();
  const trail = m[2] ?? '';
  if (/^\d+(?:-\d+)*$/.test(core)) return { kind: 'digits', value: core.replace(/-/g, ''), weak: false, raw, trail };
  const word = DIGIT_WORDS[core];
  if (word !== undefined) return { kind: 'digits', value: word, weak: WEAK.has(core), raw, trail };
  const parts = core.split('-');
  if (parts.length > 1 && parts.every((p) => DIGIT_WORDS[p] !== undefined)) {
    return { kind: 'digits', value: parts.map((p) => DIGIT_WORDS[p]).join(''), weak: false, raw, trail };
  }
  const times = REPEATS[core];
  if (times !== undefined) return { kind: 'repeat', times, raw, trail };
  return { kind: 'word', raw };
}

export function normaliseSpokenDigits(text: string): string {
  const tokens = text.split(/\s+/).filter(Boolean).map(classify);
  const out: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const run: Token[] = [];
    let j = i;
    // a run: digits, or "double/triple" followed by digits; sentence punctuation ends it
    while (j < tokens.length) {
      const t = tokens[j]!;
      const next = tokens[j + 1];
      if (t.kind === 'digits') run.push(t);
      else if (t.kind === 'repeat' && next?.kind === 'digits') run.push(t);
      else break;
      j++;
      if (/[.;:!?]/.test(t.trail)) break;
    }
    const strong = run.some((t) => t.kind === 'digits' && !t.weak) || run.length > 1;
    if (run.length === 0 || !strong) {
      out.push(tokens[i]!.raw);
      i++;
      continue;
    }
    let digits = '';
    let repeat = 1;
    for (const t of run) {
      if (t.kind === 'repeat') repeat = t.times;
      else if (t.kind === 'digits') {
        digits += repeat > 1 ? t.value[0]!.repeat(repeat) + t.value.slice(1) : t.value;
        repeat = 1;
      }
    }
    const last = run[run.length - 1]!;
    const trail = last.kind === 'word' ? '' : last.trail.replace(/,/g, '');
    out.push(digits + trail);
    i = j;
  }
  return out.join(' ');
}
