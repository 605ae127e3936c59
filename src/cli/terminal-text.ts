// Text from outside (log fields a peer supplied, member ids and addresses, stored values, error
// messages quoting a key) made safe for an operator's terminal: every control character (C0,
// DEL, C1) and the bidirectional overrides and isolates ("Trojan Source") become a visible
// \uXXXX escape, so no string can recolour, move the cursor, retitle or rewrite the screen.
// The escape form is also valid inside a JSON string, so JSON lines stay JSON.

/** C0, DEL, C1, the line/paragraph separators and the bidi embedding, override and isolate marks. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` with every unsafe character escaped (newlines and tabs too: one line stays one line). */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** As terminalSafe, but keeps newlines and tabs: for multi-line text such as a stored value. */
export function terminalSafeText(text: string): string {
  return text.replace(UNSAFE_BUT_LAYOUT, escape);
}
