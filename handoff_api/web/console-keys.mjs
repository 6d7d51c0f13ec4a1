// The console's keyboard shortcuts and their help overlay (`?`).
import { $, h, shortcuts } from "./common.mjs";

export function setUpKeys({ state, actions, selectTier, renderQueue, openHandoff }) {
  function moveSelection(step) {
    const count = state.queues[state.tier]?.handoffs?.length || 0;
    if (!count) return;
    state.selected = (state.selected + step + count) % count;
    renderQueue();
    $("#queue .selected")?.scrollIntoView({ block: "nearest" });
  }

  function openSelected() {
    const handoff = state.queues[state.tier]?.handoffs?.[state.selected];
    if (handoff) openHandoff(handoff.id);
  }

  function toggleHelp() {
    const help = $("#help");
    if (help.open) help.close();
    else help.showModal();
  }

  const tier = (index) => () => state.tiers[index] && selectTier(state.tiers[index]);
  const keys = [
    ["j", "Next handoff in the queue", () => moveSelection(1)],
    ["k", "Previous handoff in the queue", () => moveSelection(-1)],
    ["Enter", "Open the selected handoff", openSelected],
    ["1", "Switch tier: L2, L3, L4", tier(0)],
    ["2", null, tier(1)],
    ["3", null, tier(2)],
    ["c", "Claim the open handoff", () => actions.claim()],
    ["r", "Write a reply (Ctrl+Enter sends)", () => $("#reply")?.focus()],
    ["n", "Write a private note (Ctrl+Enter adds)", () => $("#note")?.focus()],
    ["e", "Escalate", () => actions.escalate()],
    ["x", "Resolve", () => actions.resolve(false)],
    ["b", "Resolve and hand back to the bot", () => actions.resolve(true)],
    ["?", "Show or hide this help", toggleHelp],
    ["Escape", "Leave a text field; close a dialog", null],
  ];

  $("#help-list").replaceChildren(...keys.filter(([, text]) => text).flatMap(([key, text]) => [
    h("dt", {}, h("kbd", { text: key === "1" ? "1 2 3" : key })), h("dd", { text }),
  ]));
  $("#help-button").addEventListener("click", toggleHelp);
  shortcuts(Object.fromEntries(keys.filter(([, , fn]) => fn).map(([key, , fn]) => [key, fn])));
}
