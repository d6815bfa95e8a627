// Shared by the client scripts: arguments, a fetch that records what it
// sent and got, and checks that print one line each and set the exit code.
// Output: one `PASS <what>` or `FAIL <what>: <detail>` line per check (the
// Rust test, tests/clients.rs, reads them), plus `INFO` lines.

/** `node <script> <base_url> [token]`: the gateway's base URL and a token. */
export function args() {
  const [base, token] = process.argv.slice(2);
  if (!base) {
    console.error(`usage: node ${process.argv[1]} <base_url> [token]`);
    process.exit(2);
  }
  return { base: base.replace(/\/$/, ''), token };
}

let failures = 0;

/** Prints PASS or FAIL for `what`; returns `ok`. */
export function check(what, ok, detail) {
  if (ok) {
    console.log(`PASS ${what}`);
  } else {
    failures += 1;
    const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
    console.log(`FAIL ${what}${text ? `: ${text}` : ''}`);
  }
  return ok;
}

export function info(text) {
  console.log(`INFO ${text}`);
}

/** Ends the script: exit 1 when any check failed. */
export function finish() {
  console.log(failures ? `DONE ${failures} failed` : 'DONE all passed');
  process.exit(failures ? 1 : 0);
}

/** Runs `main`, turning an unexpected exception into a failed check. */
export async function run(main) {
  try {
    await main();
  } catch (error) {
    check('no unexpected exception', false, (error && error.stack) || String(error));
  }
  finish();
}

/**
 * A `fetch` that records every exchange: method, URL, the request body (as
 * JSON when it is), the status, the content type and the response body.
 */
export function recordingFetch() {
  const log = [];
  const fetchFn = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.url;
    const method = (init.method || (typeof input === 'object' && input.method) || 'GET').toUpperCase();
    let body = init.body;
    try {
      body = typeof body === 'string' ? JSON.parse(body) : body;
    } catch {
      // not JSON: keep the text
    }
    const response = await fetch(input, init);
    const text = await response.clone().text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    log.push({
      method,
      url,
      body,
      status: response.status,
      contentType: response.headers.get('content-type'),
      json,
      text,
    });
    return response;
  };
  return { fetchFn, log };
}

/** The `extensions.code` of each error of a GraphQL response body. */
export function codes(json) {
  return ((json && json.errors) || []).map((e) => e && e.extensions && e.extensions.code);
}

/** A short form of one recorded exchange, for failure messages. */
export function brief(entry) {
  if (!entry) return 'no request';
  const url = new URL(entry.url);
  return `${entry.method} ${url.pathname}${url.search.length > 80 ? url.search.slice(0, 80) + '...' : url.search} -> ${entry.status} ${entry.contentType} ${entry.text.slice(0, 300)}`;
}
