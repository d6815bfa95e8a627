// graphql-ws's client (graphql-transport-ws protocol) on /graphql/ws with the
// `ws` package: a signed-in `chatSessions` subscription gets its first event
// once a conversation is created (sendChatMessage over the same socket), and
// an anonymous one ends with a clean UNAUTHENTICATED error.
// Usage: node graphql-ws.mjs <base_url> <token>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { args, check, info, run } from './lib.mjs';

const { base, token } = args();
const url = `${base.replace(/^http/, 'ws')}/graphql/ws`;

const SEND = `mutation($input: SendChatMessageInput!) {
  sendChatMessage(input: $input) { session { id } }
}`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one operation to its end: { data } or { errors }. */
function once(client, payload) {
  return new Promise((resolve) => {
    let result;
    client.subscribe(payload, {
      next: (value) => {
        result = value;
      },
      error: (error) => resolve({ errors: Array.isArray(error) ? error : [error] }),
      complete: () => resolve(result || {}),
    });
  });
}

function describe(error) {
  if (Array.isArray(error)) return JSON.stringify(error);
  if (error && typeof error.code === 'number') return `close ${error.code} ${error.reason}`;
  return String(error);
}

run(async () => {
  // Signed in: the first chatSessions event.
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const events = [];
  let ended;
  const dispose = client.subscribe(
    { query: 'subscription { chatSessions { op sessionId } }' },
    {
      next: (value) => events.push(value),
      error: (error) => {
        ended = { error };
      },
      complete: () => {
        ended = { complete: true };
      },
    },
  );
  // There is no acknowledgement of a subscribe: create conversations until
  // the first event arrives (each creates a CREATED event), for up to 10 s.
  const deadline = Date.now() + 10000;
  let sent = 0;
  let created;
  while (!events.length && !ended && Date.now() < deadline) {
    await sleep(sent ? 1500 : 300);
    if (events.length || ended) break;
    const result = await once(client, {
      query: SEND,
      variables: {
        input: {
          model: 'deepseek/deepseek-r1-0528:free',
          message: { content: `hello ${sent}`, inputTokens: 3 },
          response: { content: 're: hello', outputTokens: 5 },
        },
      },
    });
    sent += 1;
    if (result.errors) {
      check('sendChatMessage over the socket', false, result.errors);
      break;
    }
    created = created || (result.data && result.data.sendChatMessage.session.id);
  }
  for (let i = 0; i < 20 && !events.length && !ended; i += 1) await sleep(100);
  dispose();
  info(`mutations sent before the first event: ${sent}`);
  const first = events[0];
  check(
    'graphql-ws subscription gets a chatSessions CREATED event',
    first && first.data && first.data.chatSessions.op === 'CREATED',
    ended ? describe(ended.error) : first || 'no event within 10 s',
  );
  check(
    'the event names a conversation the mutation created',
    first && first.data && typeof first.data.chatSessions.sessionId === 'string' && !!created,
    { first, created },
  );
  await client.dispose();

  // Anonymous: a clean GraphQL error, then the end.
  const anon = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
  const refused = await once(anon, { query: 'subscription { chatSessions { op } }' });
  const code = refused.errors && refused.errors[0] && refused.errors[0].extensions && refused.errors[0].extensions.code;
  check('an anonymous subscription ends with UNAUTHENTICATED', code === 'UNAUTHENTICATED', refused);
  await anon.dispose();
});
