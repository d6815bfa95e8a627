// urql (@urql/core) with its default settings: cacheExchange + fetchExchange,
// `preferGetMethod` left at its default ('within-url-limit': queries go as
// GET /graphql?query=..., mutations as POST), the token in fetchOptions.
// Usage: node urql.mjs <base_url> <token>
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { args, brief, check, info, recordingFetch, run } from './lib.mjs';

const { base, token } = args();

const VIEWER = gql`
  query Viewer {
    viewer {
      role
    }
  }
`;
const CREATE = gql`
  mutation Create($input: CreateLiftSessionInput!) {
    createLiftSession(input: $input) {
      session {
        id
      }
    }
  }
`;
const SESSIONS = gql`
  query Sessions {
    liftSessions(first: 5) {
      totalCount
      nodes {
        id
      }
    }
  }
`;

run(async () => {
  const { fetchFn, log } = recordingFetch();
  const client = new Client({
    url: `${base}/graphql`,
    exchanges: [cacheExchange, fetchExchange],
    fetch: fetchFn,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  });

  // A query: sent as GET.
  const viewer = await client.query(VIEWER, {}).toPromise();
  const first = log[log.length - 1];
  check('urql query is sent as GET', first && first.method === 'GET', brief(first));
  check('urql query answers 200', first && first.status === 200, brief(first));
  check(
    'urql query returns viewer.role AUTHENTICATED',
    !viewer.error && viewer.data && viewer.data.viewer && viewer.data.viewer.role === 'AUTHENTICATED',
    viewer.error ? String(viewer.error) : viewer.data,
  );

  // A mutation: sent as POST.
  const created = await client
    .mutation(CREATE, { input: { source: 'PROMPT', originalInput: 'x' } })
    .toPromise();
  const second = log[log.length - 1];
  check('urql mutation is sent as POST', second && second.method === 'POST', brief(second));
  const id = created.data && created.data.createLiftSession && created.data.createLiftSession.session.id;
  check('urql mutation creates a lift session', !created.error && typeof id === 'string', created.error ? String(created.error) : created.data);

  // The new session shows in a list query (GET again, not from the cache).
  const sessions = await client.query(SESSIONS, {}, { requestPolicy: 'network-only' }).toPromise();
  const third = log[log.length - 1];
  check('urql list query is sent as GET', third && third.method === 'GET', brief(third));
  const page = sessions.data && sessions.data.liftSessions;
  check(
    'urql list query shows the new session',
    !sessions.error && page && page.totalCount >= 1 && page.nodes.some((n) => n.id === id),
    sessions.error ? String(sessions.error) : sessions.data,
  );
  info(`urql requests: ${log.map((e) => `${e.method} ${e.status}`).join(', ')}`);
});
