// What kind of task a card shows, in words: the rework badge and reason of a task sent
// back (返工), and the verification badge and facts of a task that asks an inspector to
// check someone else's resolution (核查). Shared by the task list and the detail.
import { t, hasKey } from './i18n.js';
import { incidentTitle } from './console-core.js';
import { h } from './common.js';
import { isRework, reworkReason, isVerify, resolutionNote } from './field-core.js';

/** A task's title in the worker's language: titles the server builds from the kind are
 * worded here ("guidance" → 引导); one a person wrote stays as written. */
export function titleOf(task) {
  return task ? incidentTitle(task, t, hasKey) : '';
}

/** The badge of a rework or a verification task, or nothing for a plain job. */
export function taskBadge(task) {
  if (isVerify(task)) return h('span.badge.verify', { dataset: { verifyBadge: 'true' } }, t('f_verify'));
  if (isRework(task)) return h('span.badge.rework', { dataset: { rework: 'true' } }, t('f_rework'));
  return null;
}

/** Why a rework came back, in words; null for other tasks. */
export function reworkText(task) {
  if (!isRework(task)) return null;
  const reason = reworkReason(task);
  return reason ? t('f_rework_reason', { reason }) : t('f_rework_noreason');
}

/** A verification task's words: `{intro, note}` (whose work to check, what they reported). */
export function verificationFacts(task) {
  const who = typeof task.resolver_id === 'string' && task.resolver_id ? task.resolver_id : '';
  const note = resolutionNote(task);
  return {
    intro: who ? t('f_verify_intro', { who }) : t('f_verify_intro_nowho'),
    note: note ? t('f_resolution_note', { note }) : t('f_resolution_nonote'),
  };
}
