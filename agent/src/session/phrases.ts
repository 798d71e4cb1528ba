/** What the agent says on its own, outside Claude's replies. Short: every word costs the caller time. */
export const PHRASES = {
  goodbyeMaxDuration: 'We are almost out of time for this call. Thanks for talking with me, goodbye!',
  idlePrompt: 'Are you still there?',
  idleGoodbye: 'I will hang up now. Talk to you later!',
  apology: 'Sorry, I had trouble answering just now. Could you say that again?',
  conversationDeleted: 'This conversation was just deleted, so I will end our call here. Goodbye!',
} as const;
