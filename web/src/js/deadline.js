// Deadlines (处置时限) in the page: whether an incident is overdue now, from its `due_at`.
// The server says `overdue` as of when it sent the incident, but the live feed sends an
// incident only when it changes, so the queue works it out again as time passes.
// Pure functions, no DOM: the same rule as the server's (`IncidentState::is_overdue`).

const ENDED = new Set(['closed', 'cancelled']);

/** Milliseconds from `now` until `i` is due (negative once past), or null without a deadline. */
export function msToDue(i, now = Date.now()) {
  if (!i || !i.due_at) return null;
  const due = Date.parse(i.due_at);
  return Number.isFinite(due) ? due - now : null;
}

/** Whether `i` is open (not closed or cancelled) and past its due time at `now` (Unix ms). */
export function isOverdue(i, now = Date.now()) {
  if (!i || ENDED.has(i.state)) return false;
  const left = msToDue(i, now);
  return left !== null && left < 0;
}
