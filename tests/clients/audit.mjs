// The public GraphQL-over-HTTP audit (graphql-http's serverAudits) against
// the gateway's /graphql: every MUST and SHOULD audit must pass (each is a
// check); MAY audits are reported only.
// Usage: node audit.mjs <base_url>
import { serverAudits } from 'graphql-http';
import { args, check, info, run } from './lib.mjs';

const { base } = args();

async function bodyOf(response) {
  try {
    return (await response.clone().text()).slice(0, 300);
  } catch {
    return '(body already read)';
  }
}

run(async () => {
  const audits = serverAudits({ url: `${base}/graphql`, fetchFn: fetch });
  const tally = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
  for (const audit of audits) {
    const level = audit.name.split(' ')[0];
    let result;
    try {
      result = await audit.fn();
    } catch (error) {
      result = { id: audit.id, name: audit.name, status: 'error', reason: `threw: ${error}` };
    }
    const passed = result.status === 'ok';
    tally[level][1] += 1;
    if (passed) tally[level][0] += 1;
    let detail = '';
    if (!passed) {
      const response = result.response;
      detail = result.reason;
      if (response) {
        detail += ` [HTTP ${response.status} ${response.headers.get('content-type')}: ${await bodyOf(response)}]`;
      }
    }
    const what = `audit ${audit.id} ${audit.name}`;
    if (level === 'MAY') {
      info(`${passed ? 'ok' : 'not met'} ${what}${detail ? `: ${detail}` : ''}`);
    } else {
      check(what, passed, detail);
    }
  }
  const figures = Object.entries(tally)
    .map(([level, [ok, all]]) => `${level} ${ok}/${all}`)
    .join(', ');
  console.log(`AUDIT passed: ${figures}`);
});
