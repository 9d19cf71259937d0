/**
 * Which browser origins may read the call API. Zendesk serves app iframes from `https://*.apps.zdusercontent.com`
 * (what `Origin` says when the app calls the bot directly); an entry `https://*.example.com` matches any subdomain
 * of example.com over https, never example.com itself nor another scheme.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): origin is string {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false; // a path, credentials or a trailing slash: not an origin
  return allowed.some((entry) => {
    const wild = /^(https?):\/\/\*\.([^/*]+)$/.exec(entry);
    if (!wild) return entry === origin;
    return url.protocol === `${wild[1]}:` && url.hostname.endsWith(`.${wild[2]}`) && url.port === '';
  });
}
