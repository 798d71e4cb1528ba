import { startProviderStandins } from '@voice/devstack/standins/index';
import { expect, it } from 'vitest';
import { prepareDialogue } from '../src/call-scenario.ts';

it('refuses a dialogue whose questions the STT stand-in could mix up (nearly the same spoken length)', async () => {
  const standins = await startProviderStandins();
  try {
    // 1.54 s and 1.40 s spoken: the pair that made the "Claude overloaded" test flaky under load.
    await expect(
      prepareDialogue(
        standins,
        ['What is the capital of France?', 'What is the capital of Italy?'],
        ['Paris.', 'Rome.'],
      ),
    ).rejects.toThrow(/nearly the same time.*make one of them longer/);
    await expect(
      prepareDialogue(
        standins,
        ['What is the capital of France?', 'And which city is the capital of Italy please?'],
        ['Paris.', 'Rome.'],
      ),
    ).resolves.toMatchObject({ clips: [expect.anything(), expect.anything()] });
    await expect(prepareDialogue(standins, ['Stop, what is the best flour?'], ['Tipo 00.'])).rejects.toThrow(
      /splits it into two utterances/,
    );
  } finally {
    await standins.stop();
  }
});
