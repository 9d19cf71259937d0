/** Asterisk .conf files as Asterisk reads them: `[section]`, `key=value` (or `key => value`), `;` comments. */
export type AsteriskConf = Map<string, Record<string, string>>;

export function parseAsteriskConf(text: string): AsteriskConf {
  const sections: AsteriskConf = new Map();
  let current: Record<string, string> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/;.*$/, '').trim();
    if (!line) continue;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      current = {};
      sections.set(header[1]!, current);
      continue;
    }
    const kv = /^([^=]+?)\s*=>?\s*(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`not a setting: ${raw}`);
    current[kv[1]!.trim()] = kv[2]!.trim();
  }
  return sections;
}
