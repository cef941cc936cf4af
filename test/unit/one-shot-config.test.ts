// verify's defaults (a person waiting) against the agent's (the background).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfig, defaultConfig, ONE_SHOT_MAX_WORKERS, oneShotConfig } from '../../src/config/config.js';

test('oneShotConfig: uncapped, one worker per core up to the cap; the agent keeps 50 MB/s and one worker', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 64].map((n) => oneShotConfig({}, n).hashConcurrency), [1, 2, 3, 4, 4, 4]);
  assert.equal(ONE_SHOT_MAX_WORKERS, 4);
  assert.equal(oneShotConfig({}, 2).hashRateLimitMBps, 0);
  const agent = defaultConfig({});
  assert.equal(agent.hashRateLimitMBps, 50);
  assert.equal(agent.hashConcurrency, 1);
  // Everything else is the same defaults; a file or flag still wins.
  assert.deepEqual({ ...oneShotConfig({}, 2), hashRateLimitMBps: 50, hashConcurrency: 1 }, agent);
  assert.equal(applyConfig(oneShotConfig({}, 2), { hashRateLimitMBps: '5' }, 'flags').hashRateLimitMBps, 5);
});
