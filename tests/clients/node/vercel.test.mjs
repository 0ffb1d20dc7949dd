// The Vercel AI SDK against asahi serve on the simulator, offline. ASAHI_URL and ASAHI_KEY name the server and an
// API key; tests/clients/test_vercel_ai.py starts the server and runs this file.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createOpenAI } from '@ai-sdk/openai';
import { generateObject, generateText, stepCountIs, tool } from 'ai';
import { z } from 'zod';

const openai = createOpenAI({ baseURL: `${process.env.ASAHI_URL}/v1`, apiKey: process.env.ASAHI_KEY });
const model = openai.chat('asahi-sim-gpt-4o');

test('generateText with tools', async () => {
  const result = await generateText({
    model,
    prompt: 'What is the weather in Madrid?',
    tools: {
      get_weather: tool({
        description: 'Current weather for a city.',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => `Sunny and 25 C in ${city}`,
      }),
    },
    stopWhen: stepCountIs(4),
  });
  assert.equal(result.steps.length, 2);
  assert.deepEqual(result.steps[0].toolCalls.map((call) => call.toolName), ['get_weather']);
  assert.match(result.steps[0].toolResults[0].output, /^Sunny and 25 C in /);
  assert.match(result.text, /get_weather returned Sunny and 25 C in /);
});

test('generateObject', async () => {
  const recipe = z.object({
    name: z.string(),
    servings: z.number().int().min(1).max(12),
    ingredients: z.array(z.object({ name: z.string(), grams: z.number().positive() })).min(2),
    vegetarian: z.boolean(),
  });
  const { object } = await generateObject({ model, schema: recipe, prompt: 'A lasagna recipe.' });
  assert.ok(recipe.safeParse(object).success);
  assert.ok(object.ingredients.length >= 2);
  assert.ok(object.name.startsWith('[asahi simulator]'));
});
