import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recommend } from '../../src/flows/m365/solutions.ts';

const hit = (n: number, url: string, score: number) => ({
  id: `id${n}`,
  number: `KB00${n}`,
  title: `KB ${n}`,
  snippet: '',
  url,
  score,
  source: 'km_api' as const,
});
const article = (url: string) => ({ title: url, url, description: '', source: 'learn' as const });

test('solutions: own knowledge first by score, Learn in turns, one per URL, up to the limit', async () => {
  const r = await recommend('outlook', {
    knowledge: {
      searchKnowledge: async () => [hit(1, 'https://kb/1', 1), hit(2, 'https://learn/a', 9), hit(3, 'https://kb/3', 5)],
    },
    learn: {
      searchArticles: async () => [article('https://learn/a/'), article('https://learn/b'), article('https://learn/c')],
    },
    limit: 4,
  });
  assert.deepEqual(
    r.items.map((s) => `${s.source} ${s.url}`),
    ['knowledge https://learn/a', 'knowledge https://kb/3', 'learn https://learn/b', 'knowledge https://kb/1'],
  );
  assert.deepEqual(r.warnings, []);
});

test('solutions: a source that fails is named; the other still answers', async () => {
  const r = await recommend('outlook', {
    knowledge: {
      searchKnowledge: async () => {
        throw new Error('ServiceNow answered 503');
      },
    },
    learn: { searchArticles: async () => [article('https://learn/a')] },
    limit: 5,
  });
  assert.deepEqual(
    r.items.map((s) => s.url),
    ['https://learn/a'],
  );
  assert.deepEqual(r.warnings, ['knowledge base: ServiceNow answered 503']);
});
