import { type ConversationSummary, conversationLabel } from './conversation-data.ts';

interface Props {
  conversations: ConversationSummary[] | undefined;
  error: string | undefined;
  selectedId: string | undefined;
  /** While a call is live the user stays in its conversation. */
  locked: boolean;
  onSelect: (id: string | undefined) => void;
  onRetry: () => void;
}

export function ConversationList({ conversations, error, selectedId, locked, onSelect, onRetry }: Props) {
  return (
    <nav className="conversation-list" aria-labelledby="conversations-heading">
      <h2 id="conversations-heading">Conversations</h2>
      <button
        type="button"
        className="button new-conversation"
        aria-current={selectedId === undefined ? 'page' : undefined}
        disabled={locked}
        onClick={() => onSelect(undefined)}
      >
        + New conversation
      </button>
      {error ? (
        <div className="notice notice-error" role="alert">
          <p>Your conversations did not load. {error}</p>
          <button type="button" className="button" onClick={onRetry}>
            Try again
          </button>
        </div>
      ) : conversations === undefined ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : conversations.length === 0 ? (
        <p className="muted">No conversations yet. Start a call to begin one.</p>
      ) : (
        <ul>
          {conversations.map((conversation) => (
            <li key={conversation.id}>
              <button
                type="button"
                className="conversation-item"
                aria-current={conversation.id === selectedId ? 'page' : undefined}
                disabled={locked && conversation.id !== selectedId}
                onClick={() => onSelect(conversation.id)}
                data-conversation-id={conversation.id}
              >
                <span className="conversation-title">{conversationLabel(conversation)}</span>
                <span className="conversation-time">
                  {new Date(conversation.updatedAt).toLocaleString(undefined, {
                    dateStyle: 'short',
                    timeStyle: 'short',
                  })}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </nav>
  );
}
