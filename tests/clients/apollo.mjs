// Apollo Client (@apollo/client/core) with an HttpLink at its defaults behind
// the automatic-persisted-query link (`new PersistedQueryLink({ sha256 })`,
// Apollo Client 4's form of `createPersistedQueryLink`, which still exists as
// a deprecated alias; SHA-256 from node:crypto):
//   - a query's first hash-only attempt gets PERSISTED_QUERY_NOT_FOUND and the
//     link resends it with the document; run again, the hash alone is enough;
//   - a mutation through the same link;
//   - a bad token: the client reads the 401's code (UNAUTHENTICATED) from the
//     error it gets (Apollo Client 4: CombinedGraphQLErrors, which it builds
//     from a non-2xx body only when that is application/graphql-response+json).
// Usage: node apollo.mjs <base_url> <token>
import { createHash } from 'node:crypto';
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
  version,
} from '@apollo/client/core';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { args, brief, check, codes, info, recordingFetch, run } from './lib.mjs';

const { base, token } = args();

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const VIEWER = gql`
  query ApolloViewer {
    viewer {
      role
    }
  }
`;
const CREATE = gql`
  mutation ApolloCreate($input: CreateLiftSessionInput!) {
    createLiftSession(input: $input) {
      session {
        id
      }
    }
  }
`;

function client(authorization) {
  const { fetchFn, log } = recordingFetch();
  const link = ApolloLink.from([
    new PersistedQueryLink({ sha256 }),
    new HttpLink({ uri: `${base}/graphql`, headers: { authorization }, fetch: fetchFn }),
  ]);
  return { apollo: new ApolloClient({ link, cache: new InMemoryCache() }), log };
}

const hashOf = (entry) =>
  entry && entry.body && entry.body.extensions && entry.body.extensions.persistedQuery
    ? entry.body.extensions.persistedQuery.sha256Hash
    : undefined;
const hashOnly = (entry) => !!hashOf(entry) && entry.body.query === undefined;

/** `client.query`/`mutate`, as { data } or { error } whatever the version does. */
async function settle(promise) {
  try {
    const result = await promise;
    return result.error ? { error: result.error } : { data: result.data };
  } catch (error) {
    return { error };
  }
}

run(async () => {
  info(`@apollo/client ${version}`);
  const { apollo, log } = client(`Bearer ${token}`);

  // 1. First run: hash only, PERSISTED_QUERY_NOT_FOUND, then the document.
  const first = await settle(apollo.query({ query: VIEWER, fetchPolicy: 'network-only' }));
  check(
    'apollo query returns viewer.role AUTHENTICATED',
    first.data && first.data.viewer && first.data.viewer.role === 'AUTHENTICATED',
    first.error ? String(first.error) : first.data,
  );
  const [probe, full] = log;
  check('apollo first attempt sends the hash alone', hashOnly(probe), brief(probe));
  check(
    'apollo first attempt gets PERSISTED_QUERY_NOT_FOUND',
    probe && codes(probe.json).includes('PERSISTED_QUERY_NOT_FOUND'),
    brief(probe),
  );
  if (probe) info(`PERSISTED_QUERY_NOT_FOUND answered with HTTP ${probe.status} ${probe.contentType}`);
  check(
    'apollo falls back to sending the document with its hash',
    full && typeof full.body.query === 'string' && hashOf(full) === hashOf(probe) && full.status === 200,
    brief(full),
  );
  check(
    'the hash is the SHA-256 of the document sent',
    full && typeof full.body.query === 'string' && sha256(full.body.query) === hashOf(full),
    full && full.body,
  );
  check('apollo first run takes two requests', log.length === 2, log.map(brief).join(' | '));

  // 2. Second run: the hash alone runs the stored document.
  const before = log.length;
  const second = await settle(apollo.query({ query: VIEWER, fetchPolicy: 'network-only' }));
  const again = log.slice(before);
  check(
    'apollo second run is one hash-only request',
    again.length === 1 && hashOnly(again[0]) && again[0].status === 200,
    again.map(brief).join(' | '),
  );
  check(
    'apollo second run returns the data',
    second.data && second.data.viewer && second.data.viewer.role === 'AUTHENTICATED',
    second.error ? String(second.error) : second.data,
  );

  // 3. A mutation through the same link.
  const mutated = await settle(
    apollo.mutate({ mutation: CREATE, variables: { input: { source: 'PROMPT', originalInput: 'x' } } }),
  );
  const id = mutated.data && mutated.data.createLiftSession && mutated.data.createLiftSession.session.id;
  check('apollo mutation creates a lift session', typeof id === 'string', mutated.error ? String(mutated.error) : mutated.data);

  // 4. A bad token: the 401's code is readable from the error.
  const bad = client('Bearer not-a-valid-token');
  const refused = await settle(bad.apollo.query({ query: VIEWER, fetchPolicy: 'network-only' }));
  const last = bad.log[bad.log.length - 1];
  check('a bad token answers 401', last && last.status === 401, brief(last));
  const error = refused.error;
  let code;
  let where;
  if (error && CombinedGraphQLErrors.is(error)) {
    code = error.errors[0] && error.errors[0].extensions && error.errors[0].extensions.code;
    where = 'CombinedGraphQLErrors: error.errors[0].extensions.code';
  } else if (error && error.graphQLErrors && error.graphQLErrors.length) {
    code = error.graphQLErrors[0].extensions && error.graphQLErrors[0].extensions.code;
    where = 'ApolloError: error.graphQLErrors[0].extensions.code';
  } else if (error && error.networkError && error.networkError.result) {
    code = codes(error.networkError.result)[0];
    where = 'ApolloError: error.networkError.result.errors[0].extensions.code';
  } else if (error && ServerError.is(error)) {
    where = `ServerError (${error.message}); the code only in its bodyText`;
  } else {
    where = `${error && error.constructor && error.constructor.name}: ${error}`;
  }
  info(`bad token: the client sees ${where}`);
  check('apollo reads UNAUTHENTICATED from the 401 error', code === 'UNAUTHENTICATED', `${where}; code ${code}; ${brief(last)}`);
  info(`apollo requests: ${log.map((e) => `${e.method} ${e.status}${hashOnly(e) ? ' (hash only)' : ''}`).join(', ')}`);
});
