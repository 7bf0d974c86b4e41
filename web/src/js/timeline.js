// Timeline lines in the reader's language. The server sends each line's `event` as a code
// with parameters (docs/contract.md, "Timeline events") beside an English `note`; here the
// code becomes words, responders become their names and kinds their labels. Words a person
// typed stay as typed. A line with no event, or a code this page does not know yet, shows
// its note.

/** Event parameters that name one responder, or several. */
const ONE_RESPONDER = ['responder'];
const MANY_RESPONDERS = ['responders'];

/**
 * A line's event in words. `tr(key, vars)` translates, `has(key)` says whether a key
 * exists, `name(id)` gives a responder's name, `kind(code)` a kind's label. Returns the
 * note (or '') when the event is missing or unknown.
 */
export function eventText(line, { tr, has, name = (id) => id, kind = (k) => k }) {
  const e = line?.event;
  const key = e && typeof e.code === 'string' ? `tl_${e.code}` : null;
  if (!key || !has(key)) return line?.note || '';
  const vars = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'code' || v == null) continue;
    if (ONE_RESPONDER.includes(k)) vars[k] = name(v);
    else if (MANY_RESPONDERS.includes(k) && Array.isArray(v)) vars[k] = v.map(name).join(tr('list_sep'));
    else if (k === 'kind') vars[k] = kind(v);
    else vars[k] = String(v);
  }
  const text = tr(key, vars);
  // A person's words after what happened, when the event carries them beside its own.
  const words = e.code !== 'note' && typeof e.note === 'string' && e.note.trim() ? e.note : null;
  return words ? tr('tl_with_note', { text, note: words }) : text;
}

/**
 * Who acted, in words: the dispatcher itself, a source, a responder by name, or a user or
 * token as `<role> <name>`. An actor of another form is shown as it is.
 */
export function actorText(actor, { tr, has, name = (id) => id }) {
  const a = String(actor || '');
  if (a === 'dispatcher') return tr('actor_dispatcher');
  const at = a.indexOf(':');
  if (at < 0) return a;
  const [prefix, rest] = [a.slice(0, at), a.slice(at + 1)];
  if (prefix === 'responder') return name(rest);
  if (prefix === 'source') return tr('actor_source', { id: rest });
  if (has(`role_${prefix}`)) return `${tr(`role_${prefix}`)} ${rest}`;
  return a;
}
