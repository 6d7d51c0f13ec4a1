// The widget's own words in each language it speaks: the catalogue the widget reads, never strings in
// its code. Keys name what a text is for; `{name}` is filled in by `t`.
export const TEXTS = {
  en: {
    launcher: "Chat with {title}",
    launcherUnread: "Chat with {title}, {count} new",
    unread: "{count} new",
    minimise: "Minimise chat",
    conversation: "Conversation",
    empty: "Ask a question to start. If the assistant can't solve it, an engineer joins this chat.",
    typing: "The assistant is typing",
    placeholder: "Type your message…",
    yourMessage: "Your message",
    send: "Send",
    reconnecting: "Reconnecting…",
    withEngineer: "With {name} ({tier})",
    waiting: "Waiting for an engineer",
    assistant: "Virtual assistant",
    queuePlace: " You are number {position} in the queue.",
    ticketBanner: "Ticket {ticket}: an engineer will join you.{place}",
    you: "You",
    bot: "Assistant",
    engineer: "Engineer",
    image: "Image from the help desk",
    commonRequests: "Common requests",
    suggestedReplies: "Suggested replies",
    opensInNewTab: " (opens in a new tab)",
    openArticle: "Open the article",
    tierL2: "L2 engineer",
    tierL3: "L3 engineer",
    tierL4: "vendor engineer",
    tierLead: "team lead",
    tierOther: "engineer",
    switchTo: "Deutsch",
    switchLabel: "Auf Deutsch wechseln",
  },
  de: {
    launcher: "Chat mit {title}",
    launcherUnread: "Chat mit {title}, {count} neu",
    unread: "{count} neu",
    minimise: "Chat minimieren",
    conversation: "Unterhaltung",
    empty: "Stellen Sie Ihre Frage. Wenn der Assistent nicht weiterhelfen kann, kommt ein Techniker in diesen Chat.",
    typing: "Der Assistent schreibt",
    placeholder: "Nachricht eingeben…",
    yourMessage: "Ihre Nachricht",
    send: "Senden",
    reconnecting: "Verbindung wird wiederhergestellt…",
    withEngineer: "Mit {name} ({tier})",
    waiting: "Warten auf einen Techniker",
    assistant: "Virtueller Assistent",
    queuePlace: " Sie sind an Position {position} in der Warteschlange.",
    ticketBanner: "Ticket {ticket}: Ein Techniker meldet sich bei Ihnen.{place}",
    you: "Sie",
    bot: "Assistent",
    engineer: "Techniker",
    image: "Bild vom Helpdesk",
    commonRequests: "Häufige Anliegen",
    suggestedReplies: "Antwortvorschläge",
    opensInNewTab: " (öffnet in einem neuen Tab)",
    openArticle: "Artikel öffnen",
    tierL2: "L2-Techniker",
    tierL3: "L3-Techniker",
    tierL4: "Techniker des Herstellers",
    tierLead: "Teamleitung",
    tierOther: "Techniker",
    switchTo: "English",
    switchLabel: "Switch to English",
  },
};

export const LANGUAGES = Object.keys(TEXTS);

// The text for `key` in `language` (English when the language or the key is unknown), values filled in.
export function t(language, key, values = {}) {
  const words = TEXTS[language] || TEXTS.en;
  const template = words[key] ?? TEXTS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
