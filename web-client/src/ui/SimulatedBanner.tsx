/** Shown on every screen when the stack runs on provider stand-ins, so nobody mistakes it for the real Claude. */
export function SimulatedBanner() {
  return (
    <div className="simulated-banner" role="note" data-testid="simulated-banner">
      <strong>Simulated mode:</strong> speech recognition, Claude and the voice are local stand-ins, not the
      real services. Answers are canned.
    </div>
  );
}
